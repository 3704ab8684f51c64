/* fuzz/fuzz_config.c — config_load_buffer on arbitrary bytes.
 *
 * Contract checked: any input either loads (and is freed without leaks) or
 * fails with DN_ECONFIG/DN_ENOMEM and a non-empty, NUL-terminated message;
 * nothing crashes.  check_files is false so the result does not depend on the
 * machine's files. */
#include "core/config.h"
#include "core/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    config_t *cfg = NULL;
    int rc = config_load_buffer("fuzz.yaml", (const char *)data, size, "/etc/danced", false, &cfg, err, sizeof err);
    if (rc == DN_OK) {
        if (!cfg || cfg->n_listeners == 0 || err[0] != '\0')
            abort();
        for (unsigned i = 0; i < cfg->n_listeners; i++)
            if (cfg->listeners[i].port == 0 || cfg->listeners[i].certificate[0] != '/')
                abort();
        config_free(cfg);
    } else {
        if (cfg || (rc != DN_ECONFIG && rc != DN_ENOMEM) || err[0] == '\0' || memchr(err, '\0', sizeof err) == NULL)
            abort();
    }
    return 0;
}
