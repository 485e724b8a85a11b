/* easy-lb's rules for values: what haproxy takes as a name, a location,
 * a host name, an address, a number, a time, the server options and the
 * backend options easy-lb lets through (tables), each a function of the
 * value's bytes.  schema.c applies them to a service's keys. */
#include <string.h>

#include "easylb/rules.h"

/* Is every byte of s[0, n) one of set (or, with alnum, a letter or
 * digit)? */
static int
all_in(const char *s, size_t n, int alnum, const char *set)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = s[i];

		if (alnum && ((c >= 'a' && c <= 'z') ||
			      (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
			continue;
		if (!c || !strchr(set, c))
			return 0;
	}
	return 1;
}

static int
is_digits(const char *s, size_t n)
{
	return n > 0 && all_in(s, n, 0, "0123456789");
}

/* A haproxy name: letters, digits, '-', '_', '.', ':', at most 100. */
int
rule_name(const char *s, size_t n)
{
	return n > 0 && n <= 100 && all_in(s, n, 1, "_.:-");
}

/* A URL path as a location: "/" and the characters of a path that
 * haproxy reads as one word (no quote, blank or '#'). */
int
rule_path(const char *s, size_t n)
{
	return n > 0 && s[0] == '/' &&
	       all_in(s + 1, n - 1, 1, "._~!$&()*+,;=:@%/-");
}

/* A number without leading zeros, at most 10 digits, in [lo, hi]. */
int
rule_num(const char *s, size_t n, long long lo, long long hi)
{
	long long v = 0;
	size_t i;

	if (!is_digits(s, n) || n > 10 || (n > 1 && s[0] == '0'))
		return 0;
	for (i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v >= lo && v <= hi;
}

/* A time: 1 to 9 digits and an optional unit. */
int
rule_time(const char *s, size_t n)
{
	static const char *const units[] = {"", "us", "ms", "s", "m", "h", "d"};
	size_t d = 0, i;

	while (d < n && d < 10 && s[d] >= '0' && s[d] <= '9')
		d++;
	if (d == 0 || d > 9)
		return 0;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (n - d == strlen(units[i]) &&
		    !memcmp(s + d, units[i], n - d))
			return 1;
	return 0;
}

/* One of the words of list (NULL-terminated), exactly? */
static int
one_of(const char *s, size_t n, const char *const *list)
{
	for (; *list; list++)
		if (strlen(*list) == n && !memcmp(s, *list, n))
			return 1;
	return 0;
}

/* The kind of address of a "host:port" word: 1 an IPv4 address, 2 an
 * IPv6 address in brackets, 3 a name; 0 none, or a port out of 1-65535. */
int
rule_addr(const char *s, size_t n)
{
	const char *c = memchr(s, ':', n), *rb, *last;
	int k = 0;

	if (c && c > s && all_in(s, (size_t)(c - s), 0, "0123456789.") &&
	    is_digits(c + 1, n - (size_t)(c - s) - 1))
		k = 1;
	else if (n > 0 && s[0] == '[' && (rb = memchr(s, ']', n)) &&
		 rb > s + 1 &&
		 all_in(s + 1, (size_t)(rb - s - 1), 0,
			"0123456789abcdefABCDEF:.") &&
		 rb + 1 < s + n && rb[1] == ':' &&
		 is_digits(rb + 2, n - (size_t)(rb - s) - 2))
		k = 2;
	else if (c && c > s && all_in(s, 1, 1, "") &&
		 all_in(s + 1, (size_t)(c - s) - 1, 1, "_.-") &&
		 is_digits(c + 1, n - (size_t)(c - s) - 1))
		k = 3;
	if (!k)
		return 0;
	for (last = s + n; last > s && last[-1] != ':'; last--)
		;
	return rule_num(last, (size_t)(s + n - last), 1, 65535) ? k : 0;
}

/* The server options easy-lb lets through, so that a typo never breaks
 * the file: a flag, or a keyword that takes a number in a range, a time
 * or one of two words. */
static const struct srvopt {
	const char *name;
	char kind; /* 'f' flag, 'n' number, 't' time, 'v' none|required */
	long long lo, hi;
} srvopts[] = {
    {"check", 'f', 0, 0},
    {"backup", 'f', 0, 0},
    {"ssl", 'f', 0, 0},
    {"send-proxy", 'f', 0, 0},
    {"send-proxy-v2", 'f', 0, 0},
    {"check-ssl", 'f', 0, 0},
    {"check-send-proxy", 'f', 0, 0},
    {"weight", 'n', 0, 256},
    {"maxconn", 'n', 0, 10000000},
    {"maxqueue", 'n', 0, 10000000},
    {"minconn", 'n', 0, 10000000},
    {"rise", 'n', 1, 1000},
    {"fall", 'n', 1, 1000},
    {"port", 'n', 1, 65535},
    {"inter", 't', 0, 0},
    {"fastinter", 't', 0, 0},
    {"downinter", 't', 0, 0},
    {"slowstart", 't', 0, 0},
    {"verify", 'v', 0, 0},
};

/* Are words w[0, n) of s server options easy-lb accepts? */
int
rule_srvopts(const char *s, const struct word *w, size_t n)
{
	static const char *const verify[] = {"none", "required", NULL};
	const struct srvopt *want = NULL;
	size_t i, j;

	for (i = 0; i < n; i++) {
		const char *ws = s + w[i].off;

		if (!want) {
			for (j = 0; j < sizeof(srvopts) / sizeof(srvopts[0]);
			     j++)
				if (strlen(srvopts[j].name) == w[i].n &&
				    !memcmp(ws, srvopts[j].name, w[i].n))
					break;
			if (j == sizeof(srvopts) / sizeof(srvopts[0]))
				return 0;
			if (srvopts[j].kind != 'f')
				want = &srvopts[j];
			continue;
		}
		if ((want->kind == 'n' &&
		     !rule_num(ws, w[i].n, want->lo, want->hi)) ||
		    (want->kind == 't' && !rule_time(ws, w[i].n)) ||
		    (want->kind == 'v' && !one_of(ws, w[i].n, verify)))
			return 0;
		want = NULL;
	}
	return !want;
}

/* The backend directives easy-lb lets through, with the values each
 * takes. */
static int
balance_ok(const char *s, size_t n)
{
	static const char *const plain[] = {
	    "roundrobin", "static-rr", "leastconn",  "first", "source",
	    "random",	  "uri",       "rdp-cookie", NULL};

	if (one_of(s, n, plain))
		return 1;
	if (n > 10 && !memcmp(s, "url_param ", 10))
		return all_in(s + 10, n - 10, 1, "_.-");
	if (n > 5 && !memcmp(s, "hdr(", 4) && s[n - 1] == ')')
		return all_in(s + 4, n - 5, 1, "_-");
	if (n > 12 && !memcmp(s, "rdp-cookie(", 11) && s[n - 1] == ')')
		return all_in(s + 11, n - 12, 1, "_-");
	return 0;
}

static int
option_ok(const char *s, size_t n)
{
	static const char *const plain[] = {"httpchk",
					    "forwardfor",
					    "http-server-close",
					    "http-keep-alive",
					    "redispatch",
					    "abortonclose",
					    "allbackups",
					    "log-health-checks",
					    "prefer-last-server",
					    "http-buffer-request",
					    NULL};
	static const char *const methods[] = {"GET ", "HEAD ", "OPTIONS ",
					      NULL};
	size_t i, m;

	if (one_of(s, n, plain))
		return 1;
	if (n < 8 || memcmp(s, "httpchk ", 8))
		return 0;
	for (i = 0; methods[i]; i++) {
		m = 8 + strlen(methods[i]);
		if (n > m && !memcmp(s + 8, methods[i], m - 8) && s[m] == '/')
			return all_in(s + m + 1, n - m - 1, 1,
				      "._~!$&()*+,;=:@%/?-");
	}
	return 0;
}

static int
timeout_ok(const char *s, size_t n)
{
	static const char *const which[] = {"server", "connect", "queue",
					    "tunnel", "check",	 "http-request",
					    NULL};
	const char *sp = memchr(s, ' ', n);

	return sp && one_of(s, (size_t)(sp - s), which) &&
	       rule_time(sp + 1, n - (size_t)(sp - s) - 1);
}

/* Is s[0, n) words of list, each after a blank ("" is)? */
static int
blank_words(const char *s, size_t n, const char *const *list)
{
	while (n > 0) {
		const char *sp;
		size_t wn;

		if (s[0] != ' ')
			return 0;
		s++;
		n--;
		sp = memchr(s, ' ', n);
		wn = sp ? (size_t)(sp - s) : n;
		if (!one_of(s, wn, list))
			return 0;
		s += wn;
		n -= wn;
	}
	return 1;
}

static int
cookie_ok(const char *s, size_t n)
{
	static const char *const attrs[] = {
	    "insert",	"rewrite",  "prefix", "indirect", "nocache", "postonly",
	    "preserve", "httponly", "secure", "dynamic",  NULL};
	const char *sp = memchr(s, ' ', n);
	size_t cn = sp ? (size_t)(sp - s) : n;

	return cn >= 1 && cn <= 64 && all_in(s, cn, 1, "_-") &&
	       blank_words(s + cn, n - cn, attrs);
}

static int
hash_type_ok(const char *s, size_t n)
{
	static const char *const methods[] = {"map-based", "consistent", NULL};
	static const char *const fns[] = {"sdbm", "djb2", "wt6", "crc32", NULL};
	static const char *const aval[] = {"avalanche", NULL};
	const char *const *want[] = {fns, aval};
	const char *sp = memchr(s, ' ', n);
	size_t wn = sp ? (size_t)(sp - s) : n, i;

	if (!one_of(s, wn, methods))
		return 0;
	/* Then, each after one blank, a function and "avalanche", each
	 * optional but in that order. */
	for (i = 0; i < 2 && wn < n; i++) {
		s += wn + 1;
		n -= wn + 1;
		sp = memchr(s, ' ', n);
		wn = sp ? (size_t)(sp - s) : n;
		if (!one_of(s, wn, want[i]) && (i == 1 || !one_of(s, wn, aval)))
			return 0;
		if (i == 0 && one_of(s, wn, aval))
			i++;
	}
	return wn == n;
}

static int
retries_ok(const char *s, size_t n)
{
	return rule_num(s, n, 0, 100);
}

static int
fullconn_ok(const char *s, size_t n)
{
	return rule_num(s, n, 1, 10000000);
}

/* The backend directives easy-lb lets through, each with the rule of
 * its value. */
static const struct bkopt {
	const char *name;
	int (*ok)(const char *s, size_t n);
} bkopts[] = {
    {"balance", balance_ok},	 {"option", option_ok},
    {"timeout", timeout_ok},	 {"cookie", cookie_ok},
    {"hash-type", hash_type_ok}, {"retries", retries_ok},
    {"fullconn", fullconn_ok},
};

int
rule_bkopt(const char *name, size_t nn, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < sizeof(bkopts) / sizeof(bkopts[0]); i++)
		if (strlen(bkopts[i].name) == nn &&
		    !memcmp(bkopts[i].name, name, nn))
			return bkopts[i].ok(s, n);
	return 0;
}

int
rule_host(const char *s, size_t n)
{
	size_t i = 0, b;

	if (n > 253)
		return 0;
	if (n >= 2 && s[0] == '*' && s[1] == '.')
		i = 2;
	for (;;) {
		for (b = i; i < n && s[i] != '.'; i++)
			;
		if (i == b || i - b > 63 || s[b] == '-' || s[i - 1] == '-' ||
		    !all_in(s + b, i - b, 1, "-"))
			return 0;
		if (i == n)
			return 1;
		i++;
	}
}

int
rule_url(const char *s, size_t n)
{
	size_t i, b;

	if (n > 2048)
		return 0;
	if (n > 7 && !memcmp(s, "http://", 7))
		i = 7;
	else if (n > 8 && !memcmp(s, "https://", 8))
		i = 8;
	else
		return 0;
	b = i;
	if (s[i] == '[') {
		while (++i < n && s[i] != ']')
			if (!all_in(s + i, 1, 0, "0123456789abcdefABCDEF:."))
				return 0;
		if (i == n || i == b + 1)
			return 0;
		i++;
	} else {
		while (i < n && all_in(s + i, 1, 1, ".-"))
			i++;
		if (i == b)
			return 0;
	}
	if (i < n && s[i] == ':') {
		for (b = ++i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			;
		if (!rule_num(s + b, i - b, 1, 65535))
			return 0;
	}
	return i == n ||
	       (s[i] == '/' && all_in(s + i, n - i, 1, "._~!$&()*+,;=:@%/?-"));
}

const char *
rule_header(const char *s, size_t n)
{
	static const char *const refused[] = {"connection",
					      "keep-alive",
					      "proxy-connection",
					      "transfer-encoding",
					      "te",
					      "trailer",
					      "upgrade",
					      "proxy-authenticate",
					      "proxy-authorization",
					      NULL};
	static const char *const owned[] = {"host", "content-length", NULL};
	char low[64];
	size_t i;

	if (n == 0 || n > sizeof(low) || !all_in(s, n, 1, "!$%&*+-.^_`|~"))
		return " is not a token (letters, digits and !$%&*+-.^_`|~, at most 64)";
	for (i = 0; i < n; i++)
		low[i] = s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' : s[i];
	if (one_of(low, n, refused))
		return " is a hop-by-hop header";
	if (one_of(low, n, owned))
		return " is not one a service may set";
	return NULL;
}

int
rule_header_value(const char *s, size_t n)
{
	size_t i;

	if (n > 1024)
		return 0;
	for (i = 0; i < n; i++)
		if ((s[i] < 0x20 && s[i] != '\t') || s[i] > 0x7e ||
		    s[i] == '\'')
			return 0;
	return 1;
}

int
rule_cookie_name(const char *s, size_t n)
{
	return n >= 1 && n <= 64 && all_in(s, n, 1, "_-");
}
