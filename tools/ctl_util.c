/* tools/ctl_util.c — names, hex and careful file writing for dancectl. */
#include "tools/ctl.h"

#include "core/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool label_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

int ctl_name_normalize(const char *in, bool allow_wildcard, const char *what, char *out, size_t cap)
{
    size_t n = in ? strlen(in) : 0;
    /* One trailing dot is the absolute form an operator may paste from a
     * zone file; it names the same thing. */
    if (n > 1 && in[n - 1] == '.')
        n--;
    if (n == 0) {
        fprintf(stderr, "dancectl: %s: empty name\n", what);
        return DN_EINVAL;
    }
    if (n > 253 || n + 1 > cap) {
        fprintf(stderr, "dancectl: %s '%s': longer than 253 characters\n", what, in);
        return DN_EINVAL;
    }
    size_t label_start = 0;
    for (size_t i = 0; i <= n; i++) {
        char c = i < n ? in[i] : '.';
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c == '.') {
            size_t ll = i - label_start;
            if (ll == 0) {
                fprintf(stderr, "dancectl: %s '%s': empty label\n", what, in);
                return DN_EINVAL;
            }
            if (ll > 63) {
                fprintf(stderr, "dancectl: %s '%s': label longer than 63 characters\n", what, in);
                return DN_EINVAL;
            }
            bool star = ll == 1 && out[label_start] == '*';
            if (star && !(allow_wildcard && label_start == 0)) {
                if (allow_wildcard)
                    fprintf(stderr, "dancectl: %s '%s': '*' is only allowed as the leftmost label\n", what, in);
                else
                    fprintf(stderr, "dancectl: %s '%s': a wildcard is not an identity; give the full name\n",
                            what, in);
                return DN_EINVAL;
            }
            if (!star && (out[label_start] == '-' || out[i - 1] == '-')) {
                fprintf(stderr, "dancectl: %s '%s': a label starts or ends with '-'\n", what, in);
                return DN_EINVAL;
            }
            label_start = i + 1;
        } else if (!label_char_ok(c) && c != '*') {
            fprintf(stderr, "dancectl: %s '%s': invalid character '%c' (letters, digits, '-', '_' and dots only)\n",
                    what, in, in[i]);
            return DN_EINVAL;
        } else if (c == '*' && !(i == label_start && (i + 1 == n || in[i + 1] == '.'))) {
            /* '*' must be a whole label; the label check above handles position. */
            fprintf(stderr, "dancectl: %s '%s': '*' must be a whole label\n", what, in);
            return DN_EINVAL;
        }
        if (i < n)
            out[i] = c;
    }
    out[n] = '\0';
    return DN_OK;
}

bool ctl_name_under(const char *name, const char *suffix)
{
    size_t n = strlen(name), s = strlen(suffix);
    if (n == s)
        return strcmp(name, suffix) == 0;
    return n > s && name[n - s - 1] == '.' && strcmp(name + n - s, suffix) == 0;
}

void ctl_hex(const uint8_t *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

int ctl_read_file(const char *path, size_t max, uint8_t **out, size_t *out_len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "dancectl: cannot open %s: %s\n", path, strerror(errno));
        return DN_EIO;
    }
    uint8_t *buf = malloc(max + 1);
    if (!buf) {
        fclose(f);
        return DN_ENOMEM;
    }
    size_t n = fread(buf, 1, max + 1, f);
    int rerr = ferror(f);
    fclose(f);
    if (rerr) {
        fprintf(stderr, "dancectl: cannot read %s\n", path);
        free(buf);
        return DN_EIO;
    }
    if (n > max) {
        fprintf(stderr, "dancectl: %s is larger than %zu bytes\n", path, max);
        free(buf);
        return DN_ERANGE;
    }
    *out = buf;
    *out_len = n;
    return DN_OK;
}

int ctl_ensure_dir(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            fprintf(stderr, "dancectl: %s exists and is not a directory\n", dir);
            return DN_EIO;
        }
        return DN_OK;
    }
    /* mkdir -p: create missing parents too, each 0700 (they hold keys). */
    char path[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof path) {
        fprintf(stderr, "dancectl: bad directory name '%s'\n", dir);
        return DN_EINVAL;
    }
    memcpy(path, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char saved = path[i];
        path[i] = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            fprintf(stderr, "dancectl: cannot create directory %s: %s\n", path, strerror(errno));
            return DN_EIO;
        }
        path[i] = saved;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "dancectl: cannot create directory %s\n", dir);
        return DN_EIO;
    }
    return DN_OK;
}

int ctl_path(char *out, size_t cap, const char *dir, const char *file)
{
    int n = snprintf(out, cap, "%s/%s", dir, file);
    if (n < 0 || (size_t)n >= cap) {
        fprintf(stderr, "dancectl: path too long: %s/%s\n", dir, file);
        return DN_ERANGE;
    }
    return DN_OK;
}

int ctl_check_absent(const char *path, bool force)
{
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (force)
            return DN_OK;
        fprintf(stderr, "dancectl: %s already exists; not overwriting it (use --force)\n", path);
        return DN_EINVAL;
    }
    if (errno != ENOENT) {
        fprintf(stderr, "dancectl: cannot check %s: %s\n", path, strerror(errno));
        return DN_EIO;
    }
    return DN_OK;
}

int ctl_write_file(const char *path, const void *data, size_t len, unsigned mode, bool force)
{
    char tmp[4096];
    const char *slash = strrchr(path, '/');
    int dl = slash ? (int)(slash - path) : 1;
    int n = snprintf(tmp, sizeof tmp, "%.*s/.dancectl.XXXXXX", dl, slash ? path : ".");
    if (n < 0 || (size_t)n >= sizeof tmp) {
        fprintf(stderr, "dancectl: path too long: %s\n", path);
        return DN_ERANGE;
    }
    int fd = mkstemp(tmp); /* always 0600, whatever the umask */
    if (fd < 0) {
        fprintf(stderr, "dancectl: cannot create a file beside %s: %s\n", path, strerror(errno));
        return DN_EIO;
    }
    const uint8_t *p = data;
    size_t left = len;
    int err = DN_OK;
    if (fchmod(fd, (mode_t)mode) != 0)
        err = DN_EIO;
    while (err == DN_OK && left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            err = DN_EIO;
            break;
        }
        p += w;
        left -= (size_t)w;
    }
    if (err == DN_OK && fsync(fd) != 0)
        err = DN_EIO;
    if (close(fd) != 0 && err == DN_OK)
        err = DN_EIO;
    if (err != DN_OK) {
        fprintf(stderr, "dancectl: cannot write %s: %s\n", path, strerror(errno));
        unlink(tmp);
        return err;
    }
    if (force) {
        if (rename(tmp, path) != 0) {
            fprintf(stderr, "dancectl: cannot replace %s: %s\n", path, strerror(errno));
            unlink(tmp);
            return DN_EIO;
        }
        return DN_OK;
    }
    /* link() refuses an existing target: no window in which another process
     * could have created the file and we silently replace it. */
    if (link(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        if (e == EEXIST)
            fprintf(stderr, "dancectl: %s already exists; not overwriting it (use --force)\n", path);
        else
            fprintf(stderr, "dancectl: cannot create %s: %s\n", path, strerror(e));
        return e == EEXIST ? DN_EINVAL : DN_EIO;
    }
    unlink(tmp);
    return DN_OK;
}
