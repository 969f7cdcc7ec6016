/*
 * Unit tests for nginx_conf.c, the --nginx-conf reader: what each supported
 * directive sets, what is refused and with which FILE:LINE message, and a
 * mutation loop that must never crash. Included so that statics are reachable.
 */
#include "../nginx_conf.c"

#include "check.h"

static char warnings[8192];
static int warning_count;
static char why[512];
static char *strings;

static void
collect(const char *message)
{
	size_t used = strlen(warnings);

	warning_count++;
	snprintf(warnings + used, sizeof warnings - used, "%s\n", message);
}

static struct options
defaults(void)
{
	struct options o = {
		.root = "./www",
		.tls = {
			.cert_file = "certs/server.crt",
			.key_file = "certs/server.key",
			.ca_file = "certs/ca.crt",
			.mode = VERIFY_STRICT,      /* so that the file's "on" shows */
			.verify_depth = 1,
			.security_level = 2,
			.session_cache_size = 1024,
			.session_timeout = 300,
		},
		.index = "index.html",
		.access_log = "-",
		.max_requests = 1000,
		.open_file_cache = 64,
		.open_file_cache_inactive = 60,
		.header_timeout = 60,
		.keepalive_timeout = 75,
		.send_timeout = 60,
	};
	return o;
}

/* Parses text as FILE "t.conf" into *o (from defaults()); returns the result. */
static int
parse_as(const char *file, const char *text, struct options *o)
{
	free(strings);
	strings = NULL;
	warnings[0] = '\0';
	warning_count = 0;
	*o = defaults();
	return nginx_conf_parse(text, strlen(text), file, o, &strings, collect,
	    why, sizeof why);
}

static int
parse(const char *text, struct options *o)
{
	return parse_as("t.conf", text, o);
}

static bool
starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* A server block around the given lines, with what every server needs. */
static const char *
server(const char *lines)
{
	static char buf[4096];

	snprintf(buf, sizeof buf,
	    "server {\n"
	    "  listen 443 ssl;\n"
	    "  ssl_certificate /c/s.crt;\n"
	    "  ssl_certificate_key /c/s.key;\n"
	    "  ssl_client_certificate /c/ca.crt;\n"
	    "  ssl_verify_client on;\n"
	    "  root /srv/www;\n"
	    "%s\n"
	    "}\n", lines);
	return buf;
}

/* Line 8 is the first of the lines given to server(). */
#define LINE_OF_EXTRA "t.conf:8: "

/* A whole server block of 8 lines, "}\n" the last. */
#define SERVER_BLOCK "server {\n  listen 443 ssl;\n  ssl_certificate /c/s.crt;\n" \
	"  ssl_certificate_key /c/s.key;\n  ssl_client_certificate /c/ca.crt;\n" \
	"  ssl_verify_client on;\n  root /srv/www;\n}\n"

static void
test_reference(void)
{
	/* The server block of the setup mtlsd replaces, as it is. */
	static const char reference[] =
	    "server {\n"
	    "  listen 443 ssl;\n"
	    "  server_name server2;\n"
	    "  ssl_certificate /etc/nginx/certs/server2.crt;\n"
	    "  ssl_certificate_key /etc/nginx/certs/server2.key;\n"
	    "  ssl_client_certificate /etc/nginx/certs/ca.crt;\n"
	    "  ssl_verify_client on;\n"
	    "  location / { root /var/www/html; index index.html; }\n"
	    "}\n";
	struct options o;

	CHECK(parse(reference, &o) == 0);
	CHECK(warning_count == 0);
	CHECK(strings != NULL);
	CHECK(o.listen_count == 1 && strcmp(o.listen[0], "0.0.0.0:443") == 0);
	CHECK(strcmp(o.root, "/var/www/html") == 0);
	CHECK(strcmp(o.index, "index.html") == 0);
	CHECK(strcmp(o.tls.cert_file, "/etc/nginx/certs/server2.crt") == 0);
	CHECK(strcmp(o.tls.key_file, "/etc/nginx/certs/server2.key") == 0);
	CHECK(strcmp(o.tls.ca_file, "/etc/nginx/certs/ca.crt") == 0);
	CHECK(o.tls.mode == VERIFY_ON);
	/* What the file does not say keeps its value. */
	CHECK(strcmp(o.access_log, "-") == 0);
	CHECK(o.error_log == NULL);
	CHECK(o.tls.verify_depth == 1 && o.tls.session_cache_size == 1024);
	CHECK(o.keepalive_timeout == 75 && o.header_timeout == 60);
}

static void
test_full_nginx_conf(void)
{
	static const char conf[] =
	    "user www-data;\n"
	    "worker_processes auto;\n"
	    "pid /run/nginx.pid;\n"
	    "error_log /var/log/nginx/error.log;\n"
	    "\n"
	    "events {\n"
	    "    worker_connections 768;\n"
	    "    # multi_accept on;\n"
	    "}\n"
	    "\n"
	    "http {\n"
	    "    sendfile on;\n"
	    "    tcp_nopush on;\n"
	    "    types_hash_max_size 2048;\n"
	    "    include /etc/nginx/mime.types;\n"
	    "    default_type application/octet-stream;\n"
	    "    ssl_protocols TLSv1.2 TLSv1.3;\n"
	    "    ssl_prefer_server_ciphers on;\n"
	    "    access_log /var/log/nginx/access.log;\n"
	    "    gzip off;\n"
	    "    keepalive_timeout 65;\n"
	    "    server {\n"
	    "        listen 127.0.0.1:8443 ssl;\n"
	    "        listen [::1]:8443 ssl;\n"
	    "        server_name server2;\n"
	    "        ssl_certificate /etc/nginx/certs/server2.crt;\n"
	    "        ssl_certificate_key /etc/nginx/certs/server2.key;\n"
	    "        ssl_client_certificate /etc/nginx/certs/ca.crt;\n"
	    "        ssl_verify_client on;\n"
	    "        location / {\n"
	    "            root /var/www/html;\n"
	    "            index index.html;\n"
	    "        }\n"
	    "    }\n"
	    "}\n";
	struct options o;

	CHECK(parse(conf, &o) == 0);
	CHECK(o.listen_count == 2);
	CHECK(strcmp(o.listen[0], "127.0.0.1:8443") == 0);
	CHECK(strcmp(o.listen[1], "[::1]:8443") == 0);
	CHECK(strcmp(o.access_log, "/var/log/nginx/access.log") == 0);
	CHECK(o.error_log && strcmp(o.error_log, "/var/log/nginx/error.log") == 0);
	CHECK(o.keepalive_timeout == 65);
	/* user, worker_processes, pid, worker_connections, mime.types, ssl_protocols */
	CHECK(warning_count == 6);
	CHECK(strstr(warnings, "t.conf:1: \"user\" ignored") != NULL);
	CHECK(strstr(warnings, "t.conf:2: \"worker_processes\" ignored") != NULL);
	CHECK(strstr(warnings, "t.conf:3: \"pid\" ignored") != NULL);
	CHECK(strstr(warnings, "t.conf:15: \"include /etc/nginx/mime.types\" ignored") != NULL);
	CHECK(strstr(warnings, "t.conf:17: \"ssl_protocols\" ignored") != NULL);
}

static void
test_listen(void)
{
	static const struct { const char *line, *address; } cases[] = {
		{ "listen 443 ssl;", "0.0.0.0:443" },
		{ "listen *:8443 ssl;", "0.0.0.0:8443" },
		{ "listen 127.0.0.1:8443 ssl;", "127.0.0.1:8443" },
		{ "listen [::]:443 ssl;", "[::]:443" },
		{ "listen [::1]:8443 ssl default_server reuseport backlog=511;", "[::1]:8443" },
		{ "listen 10.1.2.3 ssl;", "10.1.2.3:80" },
		{ "listen 8443 default_server ssl;", "0.0.0.0:8443" },
	};
	char text[512];
	struct options o;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(text, sizeof text, "server { %s ssl_certificate /a; "
		    "ssl_certificate_key /b; ssl_client_certificate /c; "
		    "ssl_verify_client on; root /r; }", cases[i].line);
		CHECK(parse(text, &o) == 0);
		CHECK(o.listen_count == 1 && strcmp(o.listen[0], cases[i].address) == 0);
		if (o.listen_count != 1 || strcmp(o.listen[0], cases[i].address) != 0)
			printf("# %s -> %s %s\n", cases[i].line, o.listen_count ? o.listen[0] : "-", why);
	}
	/* http2 is accepted, with a warning. */
	CHECK(parse("server { listen 443 ssl http2; ssl_certificate /a; "
	    "ssl_certificate_key /b; ssl_client_certificate /c; "
	    "ssl_verify_client on; root /r; }", &o) == 0);
	CHECK(warning_count == 1 && strstr(warnings, "http2") != NULL);
	/* The old "ssl on" makes a plain listen TLS. */
	CHECK(parse(server("  ssl on;\n  listen 8443;"), &o) == 0);
	CHECK(o.listen_count == 2 && strcmp(o.listen[1], "0.0.0.0:8443") == 0);

	CHECK(parse(server("  listen 80;"), &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "\"listen 0.0.0.0:80\" without \"ssl\""));
	CHECK(parse(server("  listen localhost:8443 ssl;"), &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "\"listen localhost:8443\": mtlsd needs a numeric"));
	CHECK(parse(server("  listen 8443 ssl proxy_protocol;"), &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "unsupported listen parameter \"proxy_protocol\""));
	CHECK(parse(server("  listen 99999 ssl;"), &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "\"listen 99999\": bad port"));
	CHECK(parse(server("  listen unix:/run/x.sock ssl;"), &o) < 0);
	CHECK(parse(server("  listen [::1 ssl;"), &o) < 0);
	CHECK(parse("server { ssl_certificate /a; ssl_certificate_key /b; "
	    "ssl_client_certificate /c; ssl_verify_client on; root /r; }", &o) < 0);
	CHECK(starts(why, "t.conf:1: no \"listen ... ssl\""));
}

static void
test_tls_directives(void)
{
	struct options o;

	CHECK(parse(server("  ssl_verify_depth 3;\n  ssl_crl /c/crl.pem;"), &o) == 0);
	CHECK(o.tls.verify_depth == 3);
	CHECK(o.tls.crl_file_count == 1 && strcmp(o.tls.crl_files[0], "/c/crl.pem") == 0);
	/* nginx takes any depth: above mtlsd's limit it is clamped, with a warning */
	CHECK(parse(server("  ssl_verify_depth 10;"), &o) == 0);
	CHECK(o.tls.verify_depth == 7);
	CHECK(strstr(warnings, LINE_OF_EXTRA "\"ssl_verify_depth 10\" clamped to 7") != NULL);
	CHECK(parse(server("  ssl_verify_depth -1;"), &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "\"ssl_verify_depth -1\": expected a number"));

	/* ssl_verify_client: only "on" */
	CHECK(parse("server { listen 443 ssl; ssl_certificate /a; ssl_certificate_key /b; "
	    "ssl_client_certificate /c; ssl_verify_client optional; root /r; }", &o) < 0);
	CHECK(starts(why, "t.conf:1: \"ssl_verify_client optional\" is refused: mtlsd "
	    "always requires a client certificate"));
	CHECK(parse("server {\n listen 443 ssl;\n ssl_verify_client off;\n}", &o) < 0);
	CHECK(starts(why, "t.conf:3: \"ssl_verify_client off\" is refused"));
	CHECK(parse("server {\n ssl_verify_client optional_no_ca;\n}", &o) < 0);
	CHECK(starts(why, "t.conf:2: \"ssl_verify_client optional_no_ca\" is refused"));
	CHECK(parse("server { listen 443 ssl; ssl_certificate /a; ssl_certificate_key /b; "
	    "ssl_client_certificate /c; root /r; }", &o) < 0);
	CHECK(starts(why, "t.conf:1: no \"ssl_verify_client on\""));

	/* ssl_protocols and ssl_ciphers: accepted, each with a warning */
	CHECK(parse(server("  ssl_protocols TLSv1.2 TLSv1.3;\n"
	    "  ssl_ciphers HIGH:!aNULL:!MD5;"), &o) == 0);
	CHECK(warning_count == 2);
	CHECK(starts(warnings, LINE_OF_EXTRA "\"ssl_protocols\" ignored: mtlsd speaks TLS 1.2"));
	CHECK(strstr(warnings, "t.conf:9: \"ssl_ciphers\" ignored") != NULL);
	/*
	 * ... but its @SECLEVEL judges client certificates: the mtlsd level
	 * that refuses at least what OpenSSL 3 refuses at that level
	 */
	CHECK(parse(server("  ssl_ciphers HIGH:!aNULL:@SECLEVEL=0;"), &o) == 0);
	CHECK(o.tls.security_level == 1);
	CHECK(strstr(warnings, "@SECLEVEL=0 is taken as --security-level 1 (MD5 and "
	    "RSA below 1024 bits stay refused)") != NULL);
	CHECK(parse(server("  ssl_ciphers HIGH:@SECLEVEL=1:!aNULL;"), &o) == 0);
	CHECK(o.tls.security_level == 2);
	CHECK(strstr(warnings, "@SECLEVEL=1 is taken as --security-level 2") != NULL);
	CHECK(parse(server("  ssl_ciphers DEFAULT:@SECLEVEL=2;"), &o) == 0);
	CHECK(o.tls.security_level == 2);
	CHECK(parse(server("  ssl_ciphers DEFAULT;"), &o) == 0);
	CHECK(o.tls.security_level == 2);
	CHECK(parse(server("  ssl_ciphers DEFAULT:@SECLEVEL=3;"), &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "\"ssl_ciphers ...@SECLEVEL=3\": mtlsd's "
	    "client certificate checks go up to OpenSSL's level 2"));
	CHECK(parse(server("  ssl_ciphers @SECLEVEL=x:HIGH;"), &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "\"ssl_ciphers ...@SECLEVEL=x\""));

	/* ssl_trusted_certificate */
	CHECK(parse("server { listen 443 ssl; ssl_certificate /a; ssl_certificate_key /b; "
	    "ssl_trusted_certificate /t.pem; ssl_verify_client on; root /r; }", &o) == 0);
	CHECK(strcmp(o.tls.ca_file, "/t.pem") == 0);
	CHECK(parse(server("  ssl_trusted_certificate /c/ca.crt;"), &o) == 0);
	CHECK(strcmp(o.tls.ca_file, "/c/ca.crt") == 0);
	CHECK(parse(server("  ssl_trusted_certificate /c/chain.pem;"), &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "\"ssl_trusted_certificate\" and "
	    "\"ssl_client_certificate\" name different files"));
	CHECK(parse("server { listen 443 ssl; ssl_certificate /a; ssl_certificate_key /b; "
	    "ssl_verify_client on; root /r; }", &o) < 0);
	CHECK(starts(why, "t.conf:1: no \"ssl_client_certificate\""));
	CHECK(parse("server { listen 443 ssl; ssl_client_certificate /c; "
	    "ssl_verify_client on; root /r; }", &o) < 0);
	CHECK(starts(why, "t.conf:1: no \"ssl_certificate\""));
	CHECK(parse(server("  ssl_certificate /c/ec.crt;"), &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "a second \"ssl_certificate\""));

	/* Relative certificate paths: from the configuration file's directory. */
	CHECK(parse_as("/etc/nginx/nginx.conf", "server { listen 443 ssl; "
	    "ssl_certificate certs/s.crt; ssl_certificate_key certs/s.key; "
	    "ssl_client_certificate ca.crt; ssl_crl crl.pem; ssl_verify_client on; root /r; }",
	    &o) == 0);
	CHECK(strcmp(o.tls.cert_file, "/etc/nginx/certs/s.crt") == 0);
	CHECK(strcmp(o.tls.key_file, "/etc/nginx/certs/s.key") == 0);
	CHECK(strcmp(o.tls.ca_file, "/etc/nginx/ca.crt") == 0);
	CHECK(strcmp(o.tls.crl_files[0], "/etc/nginx/crl.pem") == 0);
	CHECK(parse_as("/nginx.conf", "server { listen 443 ssl; ssl_certificate s.crt; "
	    "ssl_certificate_key s.key; ssl_client_certificate /c; ssl_verify_client on; "
	    "root /r; }", &o) == 0);
	CHECK(strcmp(o.tls.cert_file, "/s.crt") == 0);
	CHECK(parse_as("nginx.conf", "server { listen 443 ssl; ssl_certificate s.crt; "
	    "ssl_certificate_key s.key; ssl_client_certificate /c; ssl_verify_client on; "
	    "root /r; }", &o) == 0);
	CHECK(strcmp(o.tls.cert_file, "s.crt") == 0);
}

static void
test_session_cache(void)
{
	static const struct { const char *value; size_t entries; } cases[] = {
		{ "shared:SSL:10m", 40000 },
		{ "shared:SSL:1m", 4000 },
		{ "shared:tls:512k", 2000 },
		{ "builtin:1000", 1000 },
		{ "builtin", 20480 },
		{ "builtin:1000 shared:SSL:1m", 5000 },
		{ "off", 0 },
		{ "none", 0 },
	};
	char line[128];
	struct options o;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(line, sizeof line, "  ssl_session_cache %s;", cases[i].value);
		CHECK(parse(server(line), &o) == 0);
		CHECK(o.tls.session_cache_size == cases[i].entries);
	}
	CHECK(parse(server("  ssl_session_cache shared:SSL:1g;"), &o) == 0);
	CHECK(o.tls.session_cache_size == MAX_SESSION_CACHE && warning_count == 1);
	CHECK(parse(server("  ssl_session_cache off shared:SSL:1m;"), &o) < 0);
	CHECK(parse(server("  ssl_session_cache shared:SSL;"), &o) < 0);
	CHECK(parse(server("  ssl_session_cache shared:SSL:10x;"), &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "\"ssl_session_cache shared:SSL:10x\": bad size"));
	CHECK(parse(server("  ssl_session_cache lots;"), &o) < 0);
}

static void
test_times(void)
{
	static const struct { const char *directive, *value; long seconds; } cases[] = {
		{ "ssl_session_timeout", "5m", 300 },
		{ "ssl_session_timeout", "300", 300 },
		{ "ssl_session_timeout", "300s", 300 },
		{ "ssl_session_timeout", "1h", 3600 },
		{ "ssl_session_timeout", "\"1h 30m\"", 5400 },
		{ "ssl_session_timeout", "1h30m", 5400 },
		{ "ssl_session_timeout", "1d", 86400 },
		{ "keepalive_timeout", "75s", 75 },
		{ "keepalive_timeout", "500ms", 1 },
		{ "keepalive_timeout", "2m", 120 },
		{ "client_header_timeout", "10s", 10 },
		{ "client_header_timeout", "1m", 60 },
		{ "send_timeout", "30", 30 },
	};
	char line[128];
	struct options o;
	size_t i;
	long got;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(line, sizeof line, "  %s %s;", cases[i].directive, cases[i].value);
		CHECK(parse(server(line), &o) == 0);
		got = cases[i].directive[0] == 'k' ? o.keepalive_timeout
		    : cases[i].directive[0] == 'c' ? o.header_timeout
		    : cases[i].directive[1] == 's' ? o.tls.session_timeout : o.send_timeout;
		CHECK(got == cases[i].seconds);
		if (got != cases[i].seconds)
			printf("# %s %s -> %ld %s\n", cases[i].directive, cases[i].value, got, why);
	}
	/* keepalive_timeout 0 turns keep-alive off; a second value is ignored. */
	CHECK(parse(server("  keepalive_timeout 0;"), &o) == 0);
	CHECK(o.max_requests == 1 && o.keepalive_timeout == 75);
	CHECK(parse(server("  keepalive_timeout 65 60;"), &o) == 0);
	CHECK(o.keepalive_timeout == 65 && warning_count == 1);
	CHECK(parse(server("  keepalive_requests 100;"), &o) == 0);
	CHECK(o.max_requests == 100);
	/* Bad values */
	CHECK(parse(server("  ssl_session_timeout 500ms;"), &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "\"ssl_session_timeout\": invalid time \"500ms\""));
	CHECK(parse(server("  keepalive_timeout 30s 1m;"), &o) == 0);
	CHECK(parse(server("  keepalive_timeout 1s30m;"), &o) < 0);
	CHECK(parse(server("  client_header_timeout 0;"), &o) < 0);
	CHECK(parse(server("  client_header_timeout 10x;"), &o) < 0);
	CHECK(parse(server("  client_header_timeout s;"), &o) < 0);
	CHECK(parse(server("  send_timeout 99999999999999999999;"), &o) < 0);
	CHECK(parse(server("  ssl_session_timeout 1y;"), &o) == 0);
	CHECK(o.tls.session_timeout == MAX_SECONDS && warning_count == 1);
	CHECK(parse_time_ms("1y 2M 3w 4d 5h 6m 7s 8ms", true)
	    == 365LL * 86400000 + 2 * 30LL * 86400000 + 3 * 7LL * 86400000
	    + 4 * 86400000LL + 5 * 3600000LL + 6 * 60000 + 7000 + 8);
	CHECK(parse_time_ms("", true) < 0 && parse_time_ms("5m 5m", true) < 0);
}

static void
test_open_file_cache(void)
{
	struct options o;

	/* Not named: mtlsd's own default stays. */
	CHECK(parse(server(""), &o) == 0);
	CHECK(o.open_file_cache == 64 && o.open_file_cache_inactive == 60);
	CHECK(parse(server("  open_file_cache off;"), &o) == 0);
	CHECK(o.open_file_cache == 0 && warning_count == 0);
	CHECK(parse(server("  open_file_cache max=1000;"), &o) == 0);
	CHECK(o.open_file_cache == 1000 && o.open_file_cache_inactive == 60);
	CHECK(parse(server("  open_file_cache max=200 inactive=20s;"), &o) == 0);
	CHECK(o.open_file_cache == 200 && o.open_file_cache_inactive == 20);
	CHECK(parse(server("  open_file_cache inactive=2m max=10;"), &o) == 0);
	CHECK(o.open_file_cache == 10 && o.open_file_cache_inactive == 120);
	CHECK(parse(server("  open_file_cache max=10 inactive=1500ms;"), &o) == 0);
	CHECK(o.open_file_cache_inactive == 2);
	/* A deeper level replaces both values, as in nginx. */
	CHECK(parse("http { open_file_cache max=100 inactive=20s;\n"
	    "server { listen 443 ssl; ssl_certificate /a; ssl_certificate_key /b; "
	    "ssl_client_certificate /c; ssl_verify_client on; root /s;\n"
	    "location / { open_file_cache max=5; } } }", &o) == 0);
	CHECK(o.open_file_cache == 5 && o.open_file_cache_inactive == 60);
	CHECK(parse("http { open_file_cache max=100;\n"
	    "server { listen 443 ssl; ssl_certificate /a; ssl_certificate_key /b; "
	    "ssl_client_certificate /c; ssl_verify_client on; root /s;\n"
	    "open_file_cache off; } }", &o) == 0);
	CHECK(o.open_file_cache == 0);
	/* What mtlsd does not do, said; what it cannot read, refused. */
	CHECK(parse(server("  open_file_cache max=10;\n  open_file_cache_valid 30s;\n"
	    "  open_file_cache_min_uses 2;\n  open_file_cache_errors off;"), &o) == 0);
	CHECK(o.open_file_cache == 10 && warning_count == 2);
	CHECK(strstr(warnings, "\"open_file_cache_valid\" ignored: mtlsd checks") != NULL);
	CHECK(strstr(warnings, "\"open_file_cache_min_uses\" ignored") != NULL);
	CHECK(parse(server("  open_file_cache_errors on;"), &o) == 0);
	CHECK(warning_count == 1 && strstr(warnings, "never caches a failed open"));
	CHECK(parse(server("  open_file_cache inactive=20s;"), &o) < 0);
	CHECK(strcmp(why, LINE_OF_EXTRA "\"open_file_cache\" must have the \"max\" "
	    "parameter") == 0);
	CHECK(parse(server("  open_file_cache off max=10;"), &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "\"open_file_cache off\" stands alone"));
	CHECK(parse(server("  open_file_cache max=0;"), &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "\"open_file_cache max=0\": expected max=1 to"));
	CHECK(parse(server("  open_file_cache max=2000000;"), &o) < 0);
	CHECK(parse(server("  open_file_cache max=ten;"), &o) < 0);
	CHECK(parse(server("  open_file_cache max=10 inactive=soon;"), &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "\"open_file_cache\": invalid time \"soon\""));
	CHECK(parse(server("  open_file_cache max=10 min_uses=2;"), &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "\"open_file_cache\": invalid parameter"));
	CHECK(parse(server("  open_file_cache max=10;\n  open_file_cache off;"), &o) < 0);
	CHECK(starts(why, "t.conf:9: \"open_file_cache\" directive is duplicate"));
	CHECK(parse(server("  open_file_cache;"), &o) < 0);
	/* On failure the options are untouched. */
	CHECK(o.open_file_cache == 64);
}

static void
test_site_and_logs(void)
{
	struct options o;

	/* location / overrides the server, the server overrides http. */
	CHECK(parse("http { root /h; index h.html; access_log off;\n"
	    "server { listen 443 ssl; ssl_certificate /a; ssl_certificate_key /b; "
	    "ssl_client_certificate /c; ssl_verify_client on; root /s;\n"
	    "location / { root /l; } } }", &o) == 0);
	CHECK(strcmp(o.root, "/l") == 0 && strcmp(o.index, "h.html") == 0);
	CHECK(strcmp(o.access_log, "off") == 0);
	CHECK(parse(server("  index home.html index.htm;"), &o) == 0);
	CHECK(strcmp(o.index, "home.html") == 0 && warning_count == 0);
	/* Every name is tried, in order, as nginx */
	CHECK(o.locations[0].index_more_count == 1
	    && strcmp(o.locations[0].index_more[0], "index.htm") == 0);
	CHECK(parse(server("  index a.html b/c.html;"), &o) < 0);
	CHECK(parse(server("  index a/b.html;"), &o) < 0);
	CHECK(parse(server("  root /other;"), &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "\"root\" directive is duplicate (first at line 7)"));
	CHECK(parse(server("  location / { root relative/dir; }"), &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "\"root relative/dir\": write the full path"));
	CHECK(parse(server("  location / { root /srv/$host; }"), &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "\"root /srv/$host\": mtlsd has no variables"));
	CHECK(parse(server("  location / { root /srv/${host}x; }"), &o) < 0);
	CHECK(strstr(why, "no variables") != NULL);
	CHECK(parse("server { listen 443 ssl; ssl_certificate /a; ssl_certificate_key /b; "
	    "ssl_client_certificate /c; ssl_verify_client on; }", &o) < 0);
	CHECK(starts(why, "t.conf:1: no \"root\""));

	CHECK(parse(server("  access_log /var/log/a.log combined;"), &o) == 0);
	CHECK(strcmp(o.access_log, "/var/log/a.log") == 0 && warning_count == 0);
	CHECK(parse(server("  access_log /dev/stdout main buffer=32k;"), &o) == 0);
	CHECK(strcmp(o.access_log, "-") == 0 && warning_count == 2);
	CHECK(parse(server("  access_log /a.log;\n  access_log /b.log;"), &o) < 0);
	CHECK(starts(why, "t.conf:9: a second \"access_log\""));
	CHECK(parse(server("  access_log syslog:server=x;"), &o) < 0);
	CHECK(parse(server("  access_log /a.log combined if=$loggable;"), &o) < 0);
	CHECK(parse(server("  error_log /var/log/e.log warn;"), &o) == 0);
	CHECK(strcmp(o.error_log, "/var/log/e.log") == 0);
	CHECK(parse(server("  error_log stderr info;"), &o) == 0);
	CHECK(strcmp(o.error_log, "stderr") == 0);
	CHECK(parse(server("  error_log /e.log loud;"), &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "\"error_log\": invalid level \"loud\""));
	CHECK(parse(server("  error_log logs/error.log;"), &o) < 0);
}

static void
test_unsupported(void)
{
	struct options o;

	CHECK(parse(server("  location / {\n    proxy_pass http://127.0.0.1:8080;\n  }"), &o) < 0);
	CHECK(strcmp(why, "t.conf:9: unsupported directive \"proxy_pass\": mtlsd is a static "
	    "file server: it does not proxy (keep nginx, or another proxy, for that)") == 0);
	CHECK(parse(server("  location ~ \\.php$ { root /x; }"), &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "unsupported directive \"location\": a "
	    "regular-expression location"));
	CHECK(parse(server("  location ~* /x { root /x; }"), &o) < 0);
	CHECK(parse(server("  location @app { root /x; }"), &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "unsupported directive \"location\": a named location"));
	CHECK(parse(server("  if ($request_method = POST) { return 405; }"), &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "unsupported directive \"if\""));
	CHECK(parse(server("  include /etc/nginx/snippets/ssl.conf;"), &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "unsupported directive \"include\""));
	CHECK(parse("http {\n include /etc/nginx/conf.d/*.conf;\n}", &o) < 0);
	CHECK(starts(why, "t.conf:2: unsupported directive \"include\""));
	CHECK(parse(server("  auth_basic \"x\";"), &o) < 0);
	CHECK(strcmp(why, LINE_OF_EXTRA "unsupported directive \"auth_basic\"") == 0);
	/* try_files: $uri in URIs, =CODE or a URI last */
	CHECK(parse(server("  location / { try_files $uri $uri/ =404; }"), &o) == 0);
	CHECK(o.locations[1].try_count == 3);
	CHECK(parse(server("  location / { try_files $uri /index.html?$args; }"), &o) == 0);
	CHECK(strcmp(o.locations[1].try_files[1], "/index.html") == 0);
	CHECK(parse(server("  location / { try_files $uri $args =404; }"), &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "\"try_files ... $args\": mtlsd fills $uri only"));
	CHECK(parse(server("  location / { try_files $uri @app; }"), &o) < 0);
	CHECK(parse(server("  location / { try_files $uri =999; }"), &o) < 0);
	CHECK(parse("http { upstream app { server 127.0.0.1:1; } }", &o) < 0);
	CHECK(starts(why, "t.conf:1: unsupported directive \"upstream\""));
	CHECK(parse("load_module modules/x.so;\n" SERVER_BLOCK, &o) == 0);
	CHECK(strstr(warnings, "t.conf:1: \"load_module\" ignored: mtlsd loads no modules") != NULL);
	/* autoindex: per location, inherited from the server as nginx */
	CHECK(parse(server("  autoindex on;\n  location /a/ { }\n  location /b/ { autoindex off; }"),
	    &o) == 0);
	CHECK(o.location_count == 3 && o.locations[0].autoindex && o.locations[1].autoindex
	    && !o.locations[2].autoindex);
	CHECK(parse(server("  location /a/ { autoindex on; }"), &o) == 0);
	CHECK(!o.locations[0].autoindex && o.locations[1].autoindex);
	CHECK(parse(server("  autoindex off;"), &o) == 0);
	CHECK(!o.locations[0].autoindex);
	CHECK(parse(server("  autoindex yes;"), &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "invalid value \"yes\" in \"autoindex\" directive"));
	CHECK(parse(server("  autoindex on;\n  autoindex on;"), &o) < 0);
	CHECK(strstr(why, "\"autoindex\" directive is duplicate") != NULL);
	/* Two server blocks with client verification */
	CHECK(parse(SERVER_BLOCK SERVER_BLOCK, &o) < 0);
	CHECK(starts(why, "t.conf:9: a second server block with client verification on "
	    "the same port (the first at line 1): mtlsd does not tell them apart by SNI"));
	/* Directives in the wrong place */
	CHECK(parse("listen 443 ssl;", &o) < 0);
	CHECK(strcmp(why, "t.conf:1: \"listen\" directive is not allowed here") == 0);
	CHECK(parse("http { location / { } }", &o) < 0);
	CHECK(parse(server("  location / { location / { } }"), &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "unsupported directive \"location\": a location "
	    "inside a location"));
	CHECK(parse(server("  location / { }\n  location / { }"), &o) < 0);
	CHECK(starts(why, "t.conf:9: duplicate location \"/\""));
	CHECK(parse("server;", &o) < 0);
	CHECK(strcmp(why, "t.conf:1: directive \"server\" has no opening \"{\"") == 0);
	CHECK(parse(server("  root /x { }"), &o) < 0);
	CHECK(parse(server("  ssl_verify_depth;"), &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "invalid number of arguments in \"ssl_verify_depth\""));
	CHECK(parse("http { } http { }", &o) < 0);
	CHECK(parse("events { } events { }", &o) < 0);
	CHECK(parse("events { worker_connections 10; } http { }", &o) < 0);
	CHECK(starts(why, "t.conf: no \"server\" block"));
}

static void
test_syntax(void)
{
	struct options o;
	static const char nul[] = "server { listen 443 ssl;\0 }";
	char *big;
	struct options before;

	/* Quotes, escapes and comments */
	CHECK(parse(server("  location / { root \"/srv/my www\"; } # trailing\n"
	    "  index 'main page.html';"), &o) == 0);
	CHECK(strcmp(o.root, "/srv/my www") == 0);
	CHECK(strcmp(o.index, "main page.html") == 0);
	CHECK(parse(server("  location / { root \"/srv/a\\\"b\"; }"), &o) == 0);
	CHECK(strcmp(o.root, "/srv/a\"b") == 0);
	/* As nginx: a backslash keeps a space in the word, and stays. */
	CHECK(parse(server("  location / { root /srv/a\\ b; }"), &o) == 0);
	CHECK(strcmp(o.root, "/srv/a\\ b") == 0);
	/* '}' ends no word, as in nginx. */
	CHECK(parse(server("  location / { root /x;}"), &o) == 0);
	CHECK(parse(server("  location / { root /x}"), &o) < 0);
	/* Line numbers count lines inside quoted strings. */
	CHECK(parse(server("  server_name \"a\nb\";\n  bogus;"), &o) < 0);
	CHECK(strcmp(why, "t.conf:10: unsupported directive \"bogus\"") == 0);
	CHECK(parse(server("  root \"/x\"y;"), &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "unexpected \"y\" after a quoted string"));
	CHECK(parse("server { listen 443 ssl;", &o) < 0);
	CHECK(starts(why, "t.conf:1: unexpected end of file, expecting \"}\""));
	CHECK(parse("server { listen 443 ssl; }\n}", &o) < 0);
	CHECK(strcmp(why, "t.conf:2: unexpected \"}\"") == 0);
	CHECK(parse("server { listen 443 ssl }", &o) < 0);
	CHECK(parse("server { root \"/x", &o) < 0);
	CHECK(starts(why, "t.conf:1: unexpected end of file in a quoted string"));
	CHECK(parse("server { ; }", &o) < 0);
	CHECK(parse("worker_processes 1", &o) < 0);
	CHECK(starts(why, "t.conf:1: unexpected end of file, expecting \";\""));
	CHECK(parse("", &o) < 0);
	CHECK(nginx_conf_parse(nul, sizeof nul - 1, "t.conf", &o, &strings, NULL,
	    why, sizeof why) < 0 && strings == NULL);
	CHECK(strcmp(why, "t.conf:1: unexpected NUL byte") == 0);
	/* A failed parse leaves the options as they were. */
	o = defaults();
	before = o;
	CHECK(nginx_conf_parse("server { listen 1 ssl; root /x; }", 34, "t.conf", &o,
	    &strings, NULL, why, sizeof why) < 0);
	CHECK(memcmp(&o, &before, sizeof o) == 0);
	/* Bounded: larger than 1 MiB is refused before reading. */
	big = malloc(NGINX_CONF_MAX_BYTES + 2);
	memset(big, ' ', NGINX_CONF_MAX_BYTES + 1);
	CHECK(nginx_conf_parse(big, NGINX_CONF_MAX_BYTES + 1, "t.conf", &o, &strings,
	    NULL, why, sizeof why) < 0);
	CHECK(strstr(why, "larger than") != NULL);
	free(big);
	/* Messages never carry control characters from the file. */
	CHECK(parse(server("  \"bo\tgus\" x;"), &o) < 0);
	CHECK(strchr(why, '\t') == NULL);
}

/* Mutations of a full configuration: any result is fine, a crash is not. */

/* ---- files: include, and the files a configuration names ---- */

static char dir[64];

static void
put_file(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (!(f = fopen(path, "w"))) {
		perror(path);
		exit(1);
	}
	fputs(text, f);
	fclose(f);
}

static int
load(const char *name, struct options *o)
{
	char path[256];

	snprintf(path, sizeof path, "%s/%s", dir, name);
	free(strings);
	strings = NULL;
	warnings[0] = '\0';
	warning_count = 0;
	*o = defaults();
	return nginx_conf_load(path, o, &strings, collect, why, sizeof why);
}

/* why, with the temporary directory written as "D" */
static const char *
why_in_d(void)
{
	static char out[600];
	size_t n = strlen(dir);
	const char *p = why;
	char *o = out;

	while (*p && o < out + sizeof out - 2) {
		if (strncmp(p, dir, n) == 0) {
			*o++ = 'D';
			p += n;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	return out;
}

static void
test_includes(void)
{
	struct options o;
	char path[256];

	snprintf(dir, sizeof dir, "/tmp/unit-nginx.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(path, sizeof path, "%s/sites-enabled", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof path, "%s/conf.d", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof path, "%s/modules-enabled", dir);
	mkdir(path, 0755);

	/* Debian's layout: relative names from the main file's directory, globs */
	put_file("nginx.conf", "user www-data;\nworker_processes auto;\npid /run/nginx.pid;\n"
	    "include modules-enabled/*.conf;\nevents { worker_connections 768; }\n"
	    "http {\n  sendfile on;\n  include mime.types;\n  ssl_protocols TLSv1.2;\n"
	    "  include conf.d/*.conf;\n  include sites-enabled/*;\n}\n");
	put_file("conf.d/log.conf", "log_format main '$remote_addr $request';\n");
	put_file("sites-enabled/default", SERVER_BLOCK);
	CHECK(load("nginx.conf", &o) == 0);
	CHECK(o.root && strcmp(o.root, "/srv/www") == 0);
	CHECK(o.listen_count == 1 && strcmp(o.listen[0], "0.0.0.0:443") == 0);
	CHECK(strstr(warnings, "/conf.d/log.conf:1: \"log_format\" ignored") != NULL);

	/* An error in an included file names that file and its line */
	put_file("sites-enabled/default", "server {\n  listen 443 ssl;\n  auth_basic x;\n}\n");
	CHECK(load("nginx.conf", &o) < 0);
	CHECK(strcmp(why_in_d(), "D/sites-enabled/default:3: unsupported directive "
	    "\"auth_basic\"") == 0);

	/* Globs are read in glob(3)'s order, as nginx: "a" before "b" */
	put_file("sites-enabled/default", SERVER_BLOCK);
	put_file("sites-enabled/b", "server {\n  listen 8443 ssl;\n}\n");
	CHECK(load("nginx.conf", &o) < 0);
	CHECK(strcmp(why_in_d(), "D/sites-enabled/default:1: no \"ssl_verify_client on\": "
	    "nginx would serve clients without a certificate, mtlsd never does; add it "
	    "to say so") != 0);
	CHECK(starts(why_in_d(), "D/sites-enabled/b:1: "));
	snprintf(path, sizeof path, "%s/sites-enabled/b", dir);
	unlink(path);

	/* "duplicate" across files says where the first one is */
	put_file("conf.d/root.conf", "root /a;\nroot /b;\n");
	CHECK(load("nginx.conf", &o) < 0);
	CHECK(strcmp(why_in_d(), "D/conf.d/root.conf:2: \"root\" directive is duplicate "
	    "(first at line 1)") == 0);
	put_file("conf.d/root.conf", "root /a;\n");
	put_file("conf.d/z.conf", "root /b;\n");
	CHECK(load("nginx.conf", &o) < 0);
	CHECK(strcmp(why_in_d(), "D/conf.d/z.conf:1: \"root\" directive is duplicate "
	    "(first at D/conf.d/root.conf:1)") == 0);
	snprintf(path, sizeof path, "%s/conf.d/z.conf", dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/conf.d/root.conf", dir);
	unlink(path);

	/* A missing file without a pattern is an error; an empty glob is not */
	put_file("t1.conf", "http {\n include nothing-here.conf;\n include none/*.conf;\n}\n");
	CHECK(load("t1.conf", &o) < 0);
	CHECK(strcmp(why_in_d(), "D/t1.conf:2: \"include nothing-here.conf\": "
	    "D/nothing-here.conf: No such file or directory") == 0);
	put_file("t1.conf", "http {\n include none/*.conf;\n" SERVER_BLOCK "}\n");
	CHECK(load("t1.conf", &o) == 0);

	/* Loops and depth */
	put_file("loop.conf", "http {\n include loop2.conf;\n}\n");
	put_file("loop2.conf", "include loop2.conf;\n");
	CHECK(load("loop.conf", &o) < 0);
	CHECK(strcmp(why_in_d(), "D/loop2.conf:1: \"include loop2.conf\": D/loop2.conf "
	    "is already being read: an include loop") == 0);
	put_file("self.conf", "include self.conf;\n");
	CHECK(load("self.conf", &o) < 0);
	CHECK(starts(why_in_d(), "D/self.conf:1: \"include self.conf\": D/self.conf is "
	    "already being read"));
	put_file("d0.conf", "include d1.conf;\n");
	put_file("d1.conf", "include d2.conf;\n");
	put_file("d2.conf", "include d3.conf;\n");
	put_file("d3.conf", "include d4.conf;\n");
	put_file("d4.conf", "include d5.conf;\n");
	put_file("d5.conf", "include d6.conf;\n");
	put_file("d6.conf", "include d7.conf;\n");
	put_file("d7.conf", "include d8.conf;\n");
	put_file("d8.conf", "include d9.conf;\n");
	put_file("d9.conf", SERVER_BLOCK);
	CHECK(load("d0.conf", &o) < 0);
	CHECK(strcmp(why_in_d(), "D/d8.conf:1: \"include d9.conf\": includes nested "
	    "more than 8 deep") == 0);
	put_file("d1.conf", "include d8.conf;\n");
	CHECK(load("d0.conf", &o) == 0);

	/* A '}' an included file does not open */
	put_file("brace.conf", "}\n");
	put_file("t2.conf", "http {\n include brace.conf;\n" SERVER_BLOCK "}\n");
	CHECK(load("t2.conf", &o) < 0);
	CHECK(strcmp(why_in_d(), "D/brace.conf:1: unexpected \"}\"") == 0);

	/* The main file itself */
	CHECK(load("absent.conf", &o) < 0);
	CHECK(strcmp(why_in_d(), "--nginx-conf D/absent.conf: No such file or directory") == 0);
	CHECK(load("conf.d", &o) < 0);
	CHECK(strcmp(why_in_d(), "--nginx-conf D/conf.d: Is a directory") == 0);

	/* Without a file to read from, include is refused as before */
	CHECK(parse("http { include conf.d/*.conf; }", &o) < 0);
	CHECK(starts(why, "t.conf:1: unsupported directive \"include\""));
}

static void
test_check_files(void)
{
	struct options o;
	char text[512];

	snprintf(text, sizeof text, "server {\n listen 443 ssl;\n"
	    " ssl_certificate %s/s.crt;\n ssl_certificate_key %s/s.key;\n"
	    " ssl_client_certificate ca.crt;\n ssl_verify_client on;\n root /srv;\n}\n",
	    dir, dir);
	put_file("files.conf", text);
	put_file("s.crt", "x");
	put_file("s.key", "x");
	put_file("ca.crt", "x");
	CHECK(load("files.conf", &o) == 0);
	CHECK(nginx_conf_check_files(&o, why, sizeof why) == 0);
	put_file("files.conf", text);
	snprintf(text, sizeof text, "%s/s.key", dir);
	unlink(text);
	CHECK(load("files.conf", &o) == 0);
	CHECK(nginx_conf_check_files(&o, why, sizeof why) < 0);
	CHECK(strcmp(why_in_d(), "D/files.conf:4: \"ssl_certificate_key D/s.key\": "
	    "No such file or directory") == 0);
	/* A file the command line names instead is not the configuration's */
	o.tls.key_file = "/elsewhere.key";
	CHECK(nginx_conf_check_files(&o, why, sizeof why) == 0);
	/* A relative name is the prefix's, and the message says the full name */
	put_file("s.key", "x");
	snprintf(text, sizeof text, "%s/ca.crt", dir);
	unlink(text);
	CHECK(load("files.conf", &o) == 0);
	CHECK(nginx_conf_check_files(&o, why, sizeof why) < 0);
	CHECK(strcmp(why_in_d(), "D/files.conf:5: \"ssl_client_certificate D/ca.crt\": "
	    "No such file or directory") == 0);
}

/* ---- several server blocks ---- */

static void
test_servers(void)
{
	struct options o;

	/* A plain-HTTP redirect first: honoured, and the mTLS block is not "second" */
	CHECK(parse("http {\nserver {\n listen 80;\n listen [::]:80;\n server_name a.example b;\n"
	    " return 301 https://$host$request_uri;\n}\n" SERVER_BLOCK "}\n", &o) == 0);
	CHECK(o.redirect_count == 2);
	CHECK(strcmp(o.redirect[0].listen, "0.0.0.0:80") == 0);
	CHECK(strcmp(o.redirect[1].listen, "[::]:80") == 0);
	CHECK(o.redirect[0].code == 301);
	CHECK(strcmp(o.redirect[0].target, "https://$host$request_uri") == 0);
	CHECK(strcmp(o.redirect[0].server_name, "a.example") == 0);
	CHECK(o.listen_count == 1 && strcmp(o.listen[0], "0.0.0.0:443") == 0);
	CHECK(strcmp(o.root, "/srv/www") == 0);
	/* After it, in location /, with 302 and 308, $server_name, no server_name */
	CHECK(parse(SERVER_BLOCK "server { listen 8080; location / { return 302 "
	    "https://$server_name:8443$request_uri; } }\n", &o) == 0);
	CHECK(o.redirect_count == 1 && o.redirect[0].code == 302);
	CHECK(strcmp(o.redirect[0].server_name, "") == 0);
	CHECK(parse(SERVER_BLOCK "server { listen 8080; return 308 https://x$request_uri; }",
	    &o) == 0);
	CHECK(o.redirect[0].code == 308);
	CHECK(parse(SERVER_BLOCK "server { listen 8080; return https://x/; }", &o) == 0);
	CHECK(o.redirect[0].code == 302);
	/* rewrite as the old spelling of a redirect of every request */
	CHECK(parse(SERVER_BLOCK "server { listen 80; location / {\n"
	    " rewrite ^ https://$host$request_uri? permanent; } }", &o) == 0);
	CHECK(o.redirect_count == 1 && o.redirect[0].code == 301);
	CHECK(strcmp(o.redirect[0].target, "https://$host$request_uri") == 0);
	CHECK(parse(SERVER_BLOCK "server { listen 80; rewrite ^(.*)$ https://x/? redirect; }",
	    &o) == 0);
	CHECK(o.redirect[0].code == 302 && strcmp(o.redirect[0].target, "https://x/") == 0);
	CHECK(parse(SERVER_BLOCK "server { listen 80;\n rewrite ^(.*)$ https://x$1 permanent; }",
	    &o) < 0);
	CHECK(starts(why, "t.conf:10: unsupported directive \"rewrite\": mtlsd has no "
	    "regular expressions"));
	CHECK(parse(SERVER_BLOCK "server { listen 80;\n rewrite ^/old https://x/? permanent; }",
	    &o) < 0);
	CHECK(parse(server("  ssl_password_file /etc/nginx/pass;"), &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "unsupported directive \"ssl_password_file\": mtlsd "
	    "reads unencrypted keys only"));
	/* The server's return wins over location /'s */
	CHECK(parse(SERVER_BLOCK "server { listen 80; location / { return 302 https://l/; }\n"
	    " return 301 https://s/; }", &o) == 0);
	CHECK(o.redirect[0].code == 301 && strcmp(o.redirect[0].target, "https://s/") == 0);
	/* Other plain-HTTP servers: refused with the reason */
	CHECK(parse("server {\n listen 80;\n root /srv;\n}\n" SERVER_BLOCK, &o) < 0);
	CHECK(starts(why, "t.conf:2: \"listen 0.0.0.0:80\" without \"ssl\": mtlsd serves "
	    "TLS only; it takes a plain-HTTP server only when all it does is redirect"));
	CHECK(parse("server {\n listen 80;\n return 404;\n}\n" SERVER_BLOCK, &o) < 0);
	CHECK(starts(why, "t.conf:2: \"listen 0.0.0.0:80\" without \"ssl\""));
	CHECK(parse("server {\n listen 80;\n return 301 https://$http_host$uri;\n}\n"
	    SERVER_BLOCK, &o) < 0);
	CHECK(starts(why, "t.conf:3: \"return 301 https://$http_host$uri\": mtlsd fills "
	    "$host, $server_name (on a plain-HTTP redirect server), $request_uri and "
	    "$scheme only"));
	CHECK(parse("server { listen 80; return 301 https://x/; }\n"
	    "server { listen 80; return 301 https://y/; }\n" SERVER_BLOCK, &o) < 0);
	CHECK(starts(why, "t.conf:2: a second plain-HTTP server on 0.0.0.0:80"));
	CHECK(parse(SERVER_BLOCK "server {\n listen 443;\n return 301 https://x/;\n}\n", &o) < 0);
	CHECK(strcmp(why, "t.conf:10: port 443 is both the plain-HTTP redirect's and the "
	    "TLS server's (at line 2)") == 0);
	/* Only redirects: nothing to serve */
	CHECK(parse("server {\n listen 80;\n return 301 https://x/;\n}\n", &o) < 0);
	CHECK(starts(why, "t.conf:1: no server block with \"listen ... ssl\" and "
	    "\"ssl_verify_client on\""));
	/* TLS without client verification */
	CHECK(parse(SERVER_BLOCK "server {\n listen 8443 ssl;\n root /x;\n}\n", &o) < 0);
	CHECK(starts(why, "t.conf:9: no \"ssl_verify_client on\""));
	/* Two mTLS servers on different ports */
	CHECK(parse(SERVER_BLOCK "server {\n listen 8443 ssl;\n ssl_verify_client on;\n}\n",
	    &o) < 0);
	CHECK(starts(why, "t.conf:9: a second server block with client verification "
	    "(the first at line 1): mtlsd serves one site"));
	/* return in the mTLS server: its server level answers every request */
	CHECK(parse(server("  return 301 https://x/;"), &o) == 0);
	CHECK(o.locations[0].return_code == 301);
	CHECK(strcmp(o.locations[0].return_text, "https://x/") == 0);
	CHECK(parse(server("  return 301 https://$server_name/;"), &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "\"return\": mtlsd fills $server_name only on a "
	    "plain-HTTP redirect server"));
	CHECK(parse(server("  return 444;"), &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "\"return 444\": mtlsd always answers"));
	CHECK(parse(server("  return 418;"), &o) < 0);
	/* ssl on makes the server TLS */
	CHECK(parse("server { listen 443; ssl on; ssl_certificate /a; ssl_certificate_key /b;"
	    " ssl_client_certificate /c; ssl_verify_client on; root /r; }", &o) == 0);
	CHECK(o.redirect_count == 0);
}

/* ---- add_header ---- */

static void
test_add_header(void)
{
	struct options o;

	CHECK(parse(server("  add_header X-Frame-Options DENY;\n"
	    "  add_header Strict-Transport-Security \"max-age=31536000; includeSubDomains\" always;"),
	    &o) == 0);
	CHECK(o.locations[0].header_count == 2);
	CHECK(strcmp(o.locations[0].headers[0].name, "X-Frame-Options") == 0);
	CHECK(strcmp(o.locations[0].headers[0].value, "DENY") == 0 && !o.locations[0].headers[0].always);
	CHECK(strcmp(o.locations[0].headers[1].value, "max-age=31536000; includeSubDomains") == 0);
	CHECK(o.locations[0].headers[1].always);
	/* The deepest level with any replaces the outer ones, as nginx inherits */
	CHECK(parse("http {\nadd_header A 1;\nadd_header B 2;\n" SERVER_BLOCK "}", &o) == 0);
	CHECK(o.locations[0].header_count == 2 && strcmp(o.locations[0].headers[1].name, "B") == 0);
	CHECK(parse("http {\nadd_header A 1;\n" "server {\n  listen 443 ssl;\n"
	    "  ssl_certificate /a;\n  ssl_certificate_key /b;\n  ssl_client_certificate /c;\n"
	    "  ssl_verify_client on;\n  root /r;\n  add_header C 3;\n"
	    "  location / { add_header D 4 always; }\n}\n}", &o) == 0);
	CHECK(o.location_count == 2 && o.locations[1].header_count == 1
	    && strcmp(o.locations[1].headers[0].name, "D") == 0);
	CHECK(o.locations[0].header_count == 1 && strcmp(o.locations[0].headers[0].name, "C") == 0);
	CHECK(parse(server("  add_header X \"\";"), &o) == 0);
	CHECK(o.locations[0].header_count == 0);
	/* Refused: variables, framing headers, bad names, control characters */
	CHECK(parse(server("  add_header X-Client $ssl_client_s_dn;"), &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "\"add_header $ssl_client_s_dn\": mtlsd has no variables"));
	CHECK(parse(server("  add_header Content-Length 5;"), &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "\"add_header Content-Length\": mtlsd writes that "
	    "header itself"));
	CHECK(parse(server("  add_header connection close;"), &o) < 0);
	CHECK(parse(server("  add_header \"X Y\" 1;"), &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "\"add_header X Y\": not a header name"));
	CHECK(parse(server("  add_header X \"a\\nb\";"), &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "\"add_header X\": a control character"));
	CHECK(parse(server("  add_header X 1 sometimes;"), &o) < 0);
	/* charset: the deepest level's, off included */
	CHECK(parse(server("  charset utf-8;"), &o) == 0);
	CHECK(o.locations[0].charset && strcmp(o.locations[0].charset, "utf-8") == 0);
	CHECK(parse("http {\ncharset koi8-r;\n" SERVER_BLOCK "}", &o) == 0);
	CHECK(o.locations[0].charset && strcmp(o.locations[0].charset, "koi8-r") == 0);
	CHECK(parse("http {\ncharset koi8-r;\n" "server {\n  listen 443 ssl;\n"
	    "  ssl_certificate /a;\n  ssl_certificate_key /b;\n  ssl_client_certificate /c;\n"
	    "  ssl_verify_client on;\n  root /r;\n  charset off;\n}\n}", &o) == 0);
	CHECK(o.locations[0].charset == NULL);
	CHECK(parse(server("  charset \"utf 8\";"), &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "\"charset utf 8\": not a charset name"));
	CHECK(parse(server("  charset_types text/css;"), &o) < 0);
	{
		char big[1501], lines[3200];

		memset(big, 'v', 1500);
		big[1500] = '\0';
		snprintf(lines, sizeof lines, "  add_header A %s;\n  add_header B %s;", big, big);
		CHECK(parse(server(lines), &o) < 0);
		CHECK(starts(why, "t.conf:9: \"add_header\": more than 2048 bytes"));
	}
}

/* ---- locations and identities ---- */

static void
test_locations(void)
{
	struct options o;
	const struct http_location *l;
	struct http_pattern p;
	static struct parser ps;

	CHECK(parse(server("  location = /x { return 404; }\n"
	    "  location ^~ /static/ { root /s; expires 1h; add_header A 1; }\n"
	    "  location /img/ { alias /srv/images/; index i.htm; default_type text/plain; }\n"
	    "  location /p/ { allow 10.1.0.0/16; allow ::1; deny all; }"), &o) == 0);
	CHECK(o.location_count == 5);
	l = &o.locations[1];
	CHECK(l->match == HTTP_MATCH_EXACT && strcmp(l->path, "/x") == 0 && l->return_code == 404);
	l = &o.locations[2];
	CHECK(l->match == HTTP_MATCH_NOREGEX && strcmp(l->dir, "/s") == 0);
	CHECK(l->expires_kind == 1 && l->expires == 3600 && l->header_count == 1);
	l = &o.locations[3];
	CHECK(l->alias && strcmp(l->dir, "/srv/images/") == 0 && strcmp(l->index, "i.htm") == 0);
	CHECK(strcmp(l->default_type, "text/plain") == 0);
	l = &o.locations[4];
	CHECK(l->access_count == 3 && l->access[0].family == 4 && l->access[0].bits == 16);
	CHECK(l->access[1].family == 6 && !l->access[2].allow && l->access[2].family == 0);
	/* The server's root: no dir of their own (the site's, reopened on reload) */
	CHECK(o.locations[1].dir == NULL && o.locations[4].dir == NULL);
	/* The site's index (--index may override it): NULL; another: its own */
	CHECK(o.locations[4].index == NULL && strcmp(o.index, "index.html") == 0);
	/* Inheritance: add_header from the deepest level with any */
	CHECK(parse(server("  add_header S 1;\n  location /a/ { }\n  location /b/ { add_header B 2; }"),
	    &o) == 0);
	CHECK(o.locations[1].header_count == 1 && strcmp(o.locations[1].headers[0].name, "S") == 0);
	CHECK(o.locations[2].header_count == 1 && strcmp(o.locations[2].headers[0].name, "B") == 0);
	/* Refusals, with the reason */
	CHECK(parse(server("  location /img { alias /srv/img; }"), &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "unsupported directive \"alias\": alias where the "
	    "location and the alias do not both end with \"/\""));
	CHECK(parse(server("  location = /f.ico { alias /srv/f.ico; }"), &o) == 0);
	CHECK(strcmp(o.locations[1].dir, "/srv") == 0
	    && strcmp(o.locations[1].alias_file, "f.ico") == 0);
	CHECK(parse(server("  location /a/ { alias /b/; try_files $uri =404; }"), &o) < 0);
	CHECK(parse(server("  location /a/ { root /r; alias /b/; }"), &o) < 0);
	CHECK(parse(server("  location /a/ { }\n  location /a/ { }"), &o) < 0);
	CHECK(starts(why, "t.conf:9: duplicate location \"/a/\" (first at line 8)"));
	CHECK(parse(server("  location = /a/ { }\n  location /a/ { }"), &o) == 0);
	CHECK(parse(server("  location /a/ { }\n  location ^~ /a/ { }"), &o) < 0);
	CHECK(parse("server {\n listen 443 ssl; ssl_certificate /a; ssl_certificate_key /b;\n"
	    " ssl_client_certificate /c; ssl_verify_client on;\n location / { root /r; }\n"
	    " location /x/ { }\n}\n", &o) < 0);
	CHECK(starts(why, "t.conf:5: location \"/x/\" has no \"root\" (nor its server)"));
	CHECK(parse("server {\n listen 443 ssl; ssl_certificate /a; ssl_certificate_key /b;\n"
	    " ssl_client_certificate /c; ssl_verify_client on;\n"
	    " location /x/ { index a.html; }\n}\n", &o) < 0);
	CHECK(parse(server("  location /a/ { deny 10.0.0.1/40; }"), &o) < 0);
	CHECK(parse(server("  location /a/ { allow unix:; }"), &o) < 0);
	CHECK(parse(server("  location /a/ { expires modified 1h; }"), &o) < 0);
	CHECK(parse(server("  location /a/ { types { text/plain txt md; } }"), &o) == 0);
	CHECK(o.locations[1].type_count == 2
	    && strcmp(o.locations[1].types[1].ext, "md") == 0);
	/* error_page: codes, =CODE, a URI or a URL */
	CHECK(parse(server("  error_page 500 502 /50x.html;\n  location /a/ { error_page 404 =200 /i.html; }\n"
	    "  location /b/ { }"), &o) == 0);
	CHECK(o.locations[0].error_page_count == 2 && o.locations[0].error_pages[1].code == 502);
	CHECK(o.locations[1].error_page_count == 1 && o.locations[1].error_pages[0].answer == 200);
	CHECK(o.locations[2].error_page_count == 2);
	CHECK(parse(server("  location = /404.html { internal; }"), &o) == 0);
	CHECK(o.locations[1].internal && !o.locations[0].internal);
	CHECK(parse(server("  internal;"), &o) < 0);
	CHECK(parse(server("  error_page 404 @fallback;"), &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "unsupported directive \"error_page\": a named location"));
	CHECK(parse(server("  error_page 200 /x.html;"), &o) < 0);
	CHECK(parse(server("  error_page 404 /x.html?a=$uri;"), &o) < 0);
	CHECK(parse(server("  error_page 404 =200 https://x/;"), &o) < 0);
	/* Identity: the if forms and map */
	CHECK(parse(server("  location /a/ { if ($ssl_client_s_dn !~ \"CN=alice\") "
	    "{ return 403; } }"), &o) == 0);
	l = &o.locations[1];
	CHECK(l->ident_count == 1 && l->ident[0].op == ID_NO_MATCH && l->ident[0].code == 403);
	CHECK(!http_pattern_match(&l->ident[0].pattern, "CN=bob,O=x")
	    && http_pattern_match(&l->ident[0].pattern, "CN=alice,O=x"));
	CHECK(parse("map $ssl_client_s_dn $ssl_client_s_dn_cn {\n default \"\";\n"
	    " ~(^|,)CN=(?<CN>[^,]+) $CN;\n}\nmap $ssl_client_s_dn_cn $ok { default 0; alice 1; }\n"
	    "server {\n listen 443 ssl; ssl_certificate /a; ssl_certificate_key /b;\n"
	    " ssl_client_certificate /c; ssl_verify_client on; root /r;\n"
	    " location /a/ { if ($ok = 0) { return 403; } }\n"
	    " location /b/ { if ($ssl_client_s_dn_cn !~* ^(alice|bob)$) { return 403; } }\n}\n",
	    &o) == 0);
	CHECK(o.locations[1].ident[0].var == ID_MAP && o.locations[1].ident[0].op == ID_EQ);
	CHECK(o.locations[2].ident[0].pattern.count == 2
	    && o.locations[2].ident[0].pattern.caseless);
	CHECK(parse(server("  location /a/ { if ($ssl_client_s_dn ~ \"CN=(a+)\") "
	    "{ return 403; } }"), &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "the regular expression \"CN=(a+)\": mtlsd follows "
	    "literal text"));
	CHECK(parse(server("  if ($ssl_client_s_dn = x) { root /x; }"), &o) < 0);
	CHECK(parse("map $host $x { default 0; }\n" SERVER_BLOCK, &o) < 0);
	CHECK(starts(why, "t.conf:1: unsupported directive \"map\": mtlsd takes map only "
	    "over the client certificate's subject"));
	/* The patterns, as PCRE matches them */
	memset(&ps, 0, sizeof ps);
	{
		char store[4096];

		ps.store = ps.store_next = store;
		ps.store_end = store + sizeof store;
		ps.why = why;
		ps.why_len = sizeof why;
		CHECK(compile_pattern(&ps, 1, "^CN=a.c,", false, &p) == 0);
		CHECK(http_pattern_match(&p, "CN=abc,O=x") && http_pattern_match(&p, "CN=a-c,")
		    && !http_pattern_match(&p, "O=x,CN=abc,"));
		CHECK(compile_pattern(&ps, 1, "CN=a\\.c$", false, &p) == 0);
		CHECK(http_pattern_match(&p, "O=1,CN=a.c") && !http_pattern_match(&p, "O=1,CN=abc")
		    && !http_pattern_match(&p, "CN=a.c,O=1"));
		CHECK(compile_pattern(&ps, 1, "cn=ALICE|CN=bob", true, &p) == 0);
		CHECK(http_pattern_match(&p, "CN=alice,O=x") && http_pattern_match(&p, "x,cn=BOB"));
		CHECK(compile_pattern(&ps, 1, "^(a|b)$", false, &p) == 0);
		CHECK(http_pattern_match(&p, "b") && !http_pattern_match(&p, "ab"));
		CHECK(compile_pattern(&ps, 1, "a*", false, &p) < 0);
		CHECK(compile_pattern(&ps, 1, "[a]", false, &p) < 0);
		CHECK(compile_pattern(&ps, 1, "\\d", false, &p) < 0);
	}
}

/* ---- the smaller items ---- */

static void
test_if_and_others(void)
{
	struct options o;

	/* The quoted if of many configurations, and its unquoted forms */
	CHECK(parse(server("  if ($ssl_client_verify != \"SUCCESS\") { return 403; }"), &o) == 0);
	CHECK(parse(server("  if ($ssl_client_verify != SUCCESS) {\n    return 403;\n  }"), &o) == 0);
	CHECK(parse(server("  if ( $ssl_client_verify != 'SUCCESS' ) { return 495 \"no\"; }"),
	    &o) == 0);
	CHECK(parse(server("  location / {\n  if ($ssl_client_verify != SUCCESS) "
	    "{ return 403; } }"), &o) == 0);
	CHECK(warning_count == 0);
	/* Other if forms: refused with the reason */
	CHECK(parse(server("  if ($request_method = POST) { return 405; }"), &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "unsupported directive \"if\": mtlsd takes \"if\" "
	    "only on the client certificate"));
	CHECK(parse(server("  if ($ssl_client_verify != SUCCESS) {\n root /x;\n}"), &o) < 0);
	CHECK(starts(why, "t.conf:9: unsupported directive \"root\": inside \"if "
	    "($ssl_client_verify != SUCCESS)\" mtlsd takes \"return\" only"));
	CHECK(parse(server("  if $ssl_client_verify { return 403; }"), &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "invalid condition"));
	CHECK(parse(server("  if ($ssl_client_verify != SUCCESS) { return 403; "), &o) < 0);
	/* fastcgi_param without fastcgi_pass: ignored with a warning */
	CHECK(parse(server("  fastcgi_param HTTPS on;"), &o) == 0);
	CHECK(strstr(warnings, LINE_OF_EXTRA "\"fastcgi_param\" ignored") != NULL);
	CHECK(parse(server("  location / { fastcgi_param A b; fastcgi_pass 127.0.0.1:9000; }"),
	    &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "unsupported directive \"fastcgi_pass\""));
	/* log_format at the top of a conf.d-style file, and in http { } */
	CHECK(parse("log_format main '$remote_addr';\n" SERVER_BLOCK, &o) == 0);
	CHECK(strstr(warnings, "t.conf:1: \"log_format\" ignored") != NULL);
	CHECK(parse("http { log_format main '$remote_addr'; " SERVER_BLOCK "}", &o) == 0);
	CHECK(parse(server("  log_format main x;"), &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "\"log_format\" directive is not allowed here"));
	/* http directives outside http { }, and an http block too: nginx refuses */
	CHECK(parse("sendfile on;\nhttp {\n" SERVER_BLOCK "}\n", &o) < 0);
	CHECK(starts(why, "t.conf:2: an \"http\" block, and http directives outside it "
	    "(at line 1)"));
	CHECK(parse("http {\n" SERVER_BLOCK "}\nsendfile on;\n", &o) < 0);
	CHECK(starts(why, "t.conf:11: \"sendfile\" directive is not allowed here"));
}

static void
test_mutations(void)
{
	static const char seed[] =
	    "user nginx;\nevents { worker_connections 1024; }\n"
	    "http { include mime.types; access_log /var/log/a.log combined;\n"
	    "server { listen [::]:443 ssl http2; listen 443 ssl; server_name \"x y\";\n"
	    "ssl_certificate c.crt; ssl_certificate_key 'k.key'; ssl_crl crl.pem;\n"
	    "ssl_client_certificate ca.crt; ssl_verify_client on; ssl_verify_depth 2;\n"
	    "ssl_session_cache builtin:100 shared:SSL:10m; ssl_session_timeout 1h30m;\n"
	    "keepalive_timeout 75s 60; client_header_timeout 10s; # comment\n"
	    "location / { root /var/www; index index.html; } } }\n";
	static const char alphabet[] = " \t\n;{}\"'\\#$:/[]0123456789mslon";
	char text[sizeof seed + 64];
	uint32_t x = 12345;
	struct options o;
	int i, k, ok = 0, bad = 0;

	CHECK(parse_as("/etc/nginx/nginx.conf", seed, &o) == 0);
	free(strings);
	strings = NULL;
	for (i = 0; i < 20000; i++) {
		size_t len = sizeof seed - 1;

		memcpy(text, seed, len);
		for (k = 0; k < 1 + i % 4; k++) {
			x = x * 1103515245 + 12345;
			switch ((x >> 8) % 3) {
			case 0:             /* replace a byte */
				text[(x >> 12) % len] = alphabet[(x >> 20) % (sizeof alphabet - 1)];
				break;
			case 1:             /* cut the text short */
				len = (x >> 12) % (len + 1);
				break;
			default:            /* any byte at all */
				text[(x >> 12) % len] = (char)(x >> 24);
				break;
			}
			if (len == 0)
				break;
		}
		o = defaults();
		if (nginx_conf_parse(text, len, "/etc/nginx/nginx.conf", &o, &strings,
		    NULL, why, sizeof why) == 0) {
			ok++;
			if (o.listen_count < 1 || !o.root || !o.tls.cert_file)
				bad++;
			free(strings);
		} else if (strings != NULL || why[0] == '\0') {
			bad++;
		}
		strings = NULL;
	}
	CHECK(bad == 0);
	printf("# mutations: %d of 20000 still parsed\n", ok);
}

int
main(void)
{
	test_reference();
	test_full_nginx_conf();
	test_listen();
	test_tls_directives();
	test_session_cache();
	test_times();
	test_site_and_logs();
	test_open_file_cache();
	test_unsupported();
	test_syntax();
	test_includes();
	test_check_files();
	test_servers();
	test_if_and_others();
	test_add_header();
	test_locations();
	test_mutations();
	free(strings);
	{
		char cmd[128];

		snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
		if (dir[0] && system(cmd) != 0)
			printf("# could not remove %s\n", dir);
	}
	return check_done();
}
