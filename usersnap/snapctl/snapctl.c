/*
 * snapctl for usersnap sandboxes: what snapd's Go snapctl does, in one static binary
 * that runs on any base (no Python, no libc of the base needed).
 *
 * It is a pass-through (rest-api.md section 5): POST /v2/snapctl on
 * $SNAPPY_GLOBAL_ROOT/run/snapd-snap.socket with {"context-id": $SNAP_COOKIE (or
 * $SNAP_CONTEXT), "args": argv[1:]}; a sync answer's stdout and stderr are written out
 * and it exits 0; an "unsuccessful" error replays its output and exits with its
 * exit-code; any other error prints "error: <message>" and exits 1.
 *
 * Built by usersnapd with the host's C compiler (usersnap/snapctl/build.py).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_RESPONSE (16 * 1024 * 1024)
#define SOCKET_PATH "/run/snapd-snap.socket"
#define URL "http://localhost/v2/snapctl"

/* --- a growing buffer ------------------------------------------------------------- */

struct buf {
    char *data;
    size_t len, cap;
};

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void put(struct buf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        b->data = realloc(b->data, cap);
        if (b->data == NULL) die("out of memory");
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void puts_(struct buf *b, const char *s) { put(b, s, strlen(s)); }

/* JSON string, as Go's encoder writes it (control characters escaped). */
static void put_json_string(struct buf *b, const char *s) {
    puts_(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        switch (*p) {
        case '"': puts_(b, "\\\""); break;
        case '\\': puts_(b, "\\\\"); break;
        case '\n': puts_(b, "\\n"); break;
        case '\r': puts_(b, "\\r"); break;
        case '\t': puts_(b, "\\t"); break;
        default:
            if (*p < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", *p);
                puts_(b, esc);
            } else {
                put(b, (const char *)p, 1);
            }
        }
    }
    puts_(b, "\"");
}

/* --- a small JSON reader ---------------------------------------------------------- */

enum kind { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct json {
    enum kind kind;
    double num;
    char *str;          /* J_STR: decoded, NUL-terminated (may contain NULs: len) */
    size_t len;
    struct json *child; /* J_ARR, J_OBJ: first member */
    struct json *next;
    char *key;          /* member of an object */
};

struct reader {
    const char *p, *end;
};

static void ws(struct reader *r) {
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

static void bad(void) { die("cannot decode the answer of usersnapd"); }

static void utf8(struct buf *b, unsigned long c) {
    char out[4];
    size_t n;
    if (c < 0x80) { out[0] = (char)c; n = 1; }
    else if (c < 0x800) { out[0] = (char)(0xc0 | c >> 6); out[1] = (char)(0x80 | (c & 0x3f)); n = 2; }
    else if (c < 0x10000) {
        out[0] = (char)(0xe0 | c >> 12); out[1] = (char)(0x80 | ((c >> 6) & 0x3f));
        out[2] = (char)(0x80 | (c & 0x3f)); n = 3;
    } else {
        out[0] = (char)(0xf0 | c >> 18); out[1] = (char)(0x80 | ((c >> 12) & 0x3f));
        out[2] = (char)(0x80 | ((c >> 6) & 0x3f)); out[3] = (char)(0x80 | (c & 0x3f)); n = 4;
    }
    put(b, out, n);
}

static unsigned long hex4(struct reader *r) {
    unsigned long v = 0;
    if (r->end - r->p < 4) bad();
    for (int i = 0; i < 4; i++) {
        char c = *r->p++;
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned long)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned long)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned long)(c - 'A' + 10);
        else bad();
    }
    return v;
}

static char *string(struct reader *r, size_t *len) {
    struct buf b = {0};
    put(&b, "", 0);
    if (r->p >= r->end || *r->p != '"') bad();
    r->p++;
    while (r->p < r->end && *r->p != '"') {
        char c = *r->p++;
        if (c != '\\') { put(&b, &c, 1); continue; }
        if (r->p >= r->end) bad();
        c = *r->p++;
        switch (c) {
        case 'b': put(&b, "\b", 1); break;
        case 'f': put(&b, "\f", 1); break;
        case 'n': put(&b, "\n", 1); break;
        case 'r': put(&b, "\r", 1); break;
        case 't': put(&b, "\t", 1); break;
        case 'u': {
            unsigned long u = hex4(r);
            if (u >= 0xd800 && u < 0xdc00 && r->end - r->p >= 6 && r->p[0] == '\\' && r->p[1] == 'u') {
                r->p += 2;
                unsigned long lo = hex4(r);
                u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
            }
            utf8(&b, u);
            break;
        }
        default: put(&b, &c, 1);
        }
    }
    if (r->p >= r->end) bad();
    r->p++;
    *len = b.len;
    return b.data;
}

static struct json *value(struct reader *r, int depth) {
    struct json *v = calloc(1, sizeof *v);
    if (v == NULL || depth > 64) die("out of memory");
    ws(r);
    if (r->p >= r->end) bad();
    char c = *r->p;
    if (c == '{' || c == '[') {
        v->kind = c == '{' ? J_OBJ : J_ARR;
        r->p++;
        struct json **tail = &v->child;
        ws(r);
        if (r->p < r->end && *r->p == (c == '{' ? '}' : ']')) { r->p++; return v; }
        for (;;) {
            char *key = NULL;
            size_t klen;
            if (c == '{') {
                ws(r);
                key = string(r, &klen);
                ws(r);
                if (r->p >= r->end || *r->p++ != ':') bad();
            }
            struct json *m = value(r, depth + 1);
            m->key = key;
            *tail = m;
            tail = &m->next;
            ws(r);
            if (r->p >= r->end) bad();
            if (*r->p == ',') { r->p++; continue; }
            if (*r->p++ != (c == '{' ? '}' : ']')) bad();
            return v;
        }
    }
    if (c == '"') { v->kind = J_STR; v->str = string(r, &v->len); return v; }
    if (r->end - r->p >= 4 && strncmp(r->p, "null", 4) == 0) { r->p += 4; return v; }
    if (r->end - r->p >= 4 && strncmp(r->p, "true", 4) == 0) { v->kind = J_BOOL; v->num = 1; r->p += 4; return v; }
    if (r->end - r->p >= 5 && strncmp(r->p, "false", 5) == 0) { v->kind = J_BOOL; r->p += 5; return v; }
    char *stop;
    v->kind = J_NUM;
    v->num = strtod(r->p, &stop);
    if (stop == r->p) bad();
    r->p = stop;
    return v;
}

static struct json *member(const struct json *obj, const char *key) {
    if (obj == NULL || obj->kind != J_OBJ) return NULL;
    for (struct json *m = obj->child; m; m = m->next)
        if (strcmp(m->key, key) == 0) return m;
    return NULL;
}

static void write_all(int fd, const struct json *s) {
    if (s == NULL || s->kind != J_STR) return;
    const char *p = s->str;
    size_t left = s->len;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0) {
            if (errno == EINTR) continue;
            return;
        }
        p += n;
        left -= (size_t)n;
    }
}

/* --- the exchange ----------------------------------------------------------------- */

static void lower_first(char *s) {
    if (s[0] >= 'A' && s[0] <= 'Z') s[0] = (char)(s[0] - 'A' + 'a');
}

int main(int argc, char **argv) {
    const char *cookie = getenv("SNAP_COOKIE");
    if (cookie == NULL || cookie[0] == '\0') cookie = getenv("SNAP_CONTEXT");
    if (cookie == NULL) cookie = "";
    const char *root = getenv("SNAPPY_GLOBAL_ROOT");
    struct buf path = {0};
    puts_(&path, root ? root : "");
    puts_(&path, SOCKET_PATH);

    struct buf body = {0};
    puts_(&body, "{\"context-id\":");
    put_json_string(&body, cookie);
    puts_(&body, ",\"args\":[");
    for (int i = 1; i < argc; i++) {
        if (i > 1) puts_(&body, ",");
        put_json_string(&body, argv[i]);
    }
    puts_(&body, "]}");

    struct buf req = {0};
    char head[256];
    snprintf(head, sizeof head,
             "POST /v2/snapctl HTTP/1.1\r\nHost: localhost\r\nUser-Agent: usersnap-snapctl\r\n"
             "Content-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
             body.len);
    puts_(&req, head);
    put(&req, body.data, body.len);

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (path.len >= sizeof addr.sun_path) die("socket path too long: %s", path.data);
    memcpy(addr.sun_path, path.data, path.len + 1);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        char reason[128];
        snprintf(reason, sizeof reason, "%s", strerror(errno));
        lower_first(reason);
        die("cannot communicate with server: Post \"%s\": dial unix %s: connect: %s", URL,
            path.data, reason);
    }
    for (size_t sent = 0; sent < req.len;) {
        ssize_t n = write(fd, req.data + sent, req.len - sent);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) die("cannot communicate with server: %s", strerror(errno));
        sent += (size_t)n;
    }
    struct buf resp = {0};
    char chunk[65536];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) die("cannot communicate with server: %s", strerror(errno));
        if (n == 0) break;
        put(&resp, chunk, (size_t)n);
        if (resp.len > MAX_RESPONSE) die("answer of usersnapd too large");
    }
    close(fd);

    char *sep = resp.data ? strstr(resp.data, "\r\n\r\n") : NULL;
    if (sep == NULL) die("cannot communicate with server: malformed HTTP response");
    const char *start = sep + 4, *end = resp.data + resp.len;
    char *length = strcasestr(resp.data, "\r\ncontent-length:");
    if (length != NULL && length < sep) {
        size_t n = strtoul(length + 17, NULL, 10);
        if (n <= (size_t)(end - start)) end = start + n;
    }
    struct reader r = {start, end};
    struct json *top = value(&r, 0);
    struct json *type = member(top, "type"), *result = member(top, "result");
    if (type && type->kind == J_STR && strcmp(type->str, "sync") == 0) {
        write_all(1, member(result, "stdout"));
        write_all(2, member(result, "stderr"));
        return 0;
    }
    struct json *kind = member(result, "kind"), *val = member(result, "value");
    if (kind && kind->kind == J_STR && strcmp(kind->str, "unsuccessful") == 0) {
        write_all(1, member(val, "stdout"));
        write_all(2, member(val, "stderr"));
        struct json *code = member(val, "exit-code");
        return code && code->kind == J_NUM ? (int)code->num : 1;
    }
    struct json *message = member(result, "message");
    if (message && message->kind == J_STR && message->len > 0) die("%s", message->str);
    *strstr(resp.data, "\r\n") = '\0';
    die("server error: %s", resp.data);
    return 1;
}
