/* Fuzz the query pipeline's pure steps with arbitrary bytes standing for both
 * the client's query and the upstream (libunbound) answer: classify, prepare
 * the body (OPT and DNSSEC stripping, which may rebuild the message), then
 * finish the client's response.  Every prepared body and response must parse
 * back; anything else aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/wire.h"
#include "resolver/pipeline.h"

static uint8_t body[65536 + 1024];
static uint8_t out[65536 + 2048];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    query_info_t qi;
    pipeline_action_t act = pipeline_classify(data, size, &qi);
    if (act == PIPELINE_DROP)
        return 0;
    pipeline_resp_opts_t ro = {.keepalive_100ms = 300, .ede_code = -1};
    size_t n;
    if (act != PIPELINE_LOOKUP) {
        ro.ede_code = 18;
        ro.ede_text = "fuzz";
        if (pipeline_error(&qi, WIRE_RC_REFUSED, &ro, out, sizeof out, &n) == 0) {
            wire_msg_info_t info;
            if (wire_msg_info(out, n, &info) != 0)
                abort();
        }
        return 0;
    }
    /* The same bytes as an upstream answer, with and without DO. */
    for (int do_bit = 0; do_bit < 2; do_bit++) {
        size_t blen;
        if (pipeline_prepare_body(data, size, do_bit, qi.qtype, body, sizeof body, &blen) != 0)
            continue;
        wire_msg_info_t info;
        if (wire_msg_info(body, blen, &info) != 0 || info.opt_rr_offset != 0)
            abort(); /* a prepared body must parse and carry no OPT */
        if (pipeline_finish(&qi, body, blen, do_bit, &ro, out, sizeof out, &n) == 0) {
            if (wire_msg_info(out, n, &info) != 0)
                abort();
            if (((out[0] << 8) | out[1]) != qi.id)
                abort();
        }
    }
    return 0;
}
