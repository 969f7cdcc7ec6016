/*
 * Unit tests for nginx_conf.c, the --nginx-conf reader: what each supported
 * directive sets, what is refused and with which FILE:LINE message, and a
 * mutation loop that must never crash. Included so that statics are reachable.
 */
#include "../nginx_conf.c"

static int passed, failed;

#define CHECK(cond) check((cond), #cond, __FILE__, __LINE__)

static void
check(bool ok, const char *what, const char *file, int line)
{
	if (ok) {
		passed++;
	} else {
		failed++;
		printf("FAIL - %s:%d: %s\n", file, line, what);
	}
}

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
	CHECK(parse(server("  ssl_verify_depth 8;"), &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "\"ssl_verify_depth 8\": expected 0 to 7"));

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
	CHECK(strcmp(o.index, "home.html") == 0 && warning_count == 1);
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
	CHECK(strcmp(why, "t.conf:9: unsupported directive \"proxy_pass\"") == 0);
	CHECK(parse(server("  location /api { root /x; }"), &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "unsupported directive \"location\""));
	CHECK(parse(server("  location = / { root /x; }"), &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "unsupported directive \"location\""));
	CHECK(parse(server("  if ($request_method = POST) { return 405; }"), &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "unsupported directive \"if\""));
	CHECK(parse(server("  include /etc/nginx/snippets/ssl.conf;"), &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "unsupported directive \"include\""));
	CHECK(parse("http {\n include /etc/nginx/conf.d/*.conf;\n}", &o) < 0);
	CHECK(starts(why, "t.conf:2: unsupported directive \"include\""));
	CHECK(parse(server("  add_header X-Frame-Options DENY;"), &o) < 0);
	CHECK(strcmp(why, LINE_OF_EXTRA "unsupported directive \"add_header\"") == 0);
	CHECK(parse(server("  location / { try_files $uri $uri/ =404; }"), &o) < 0);
	CHECK(starts(why, LINE_OF_EXTRA "unsupported directive \"try_files\""));
	CHECK(parse("http { upstream app { server 127.0.0.1:1; } }", &o) < 0);
	CHECK(starts(why, "t.conf:1: unsupported directive \"upstream\""));
	CHECK(parse("load_module modules/x.so;", &o) < 0);
	CHECK(starts(why, "t.conf:1: unsupported directive \"load_module\""));
	CHECK(parse(server("  autoindex on;"), &o) < 0);
	CHECK(parse(server("  autoindex off;"), &o) == 0);
	/* A second server block (a port-80 redirect, say) */
	CHECK(parse("http {\nserver { listen 80; return 301 https://$host$request_uri; }\n"
	    "server { listen 443 ssl; }\n}", &o) < 0);
	CHECK(strcmp(why, "t.conf:2: unsupported directive \"return\"") == 0);
	CHECK(parse("server { listen 443 ssl; }\nserver { listen 8443 ssl; }", &o) < 0);
	CHECK(starts(why, "t.conf:2: unsupported directive \"server\": mtlsd serves one"));
	/* Directives in the wrong place */
	CHECK(parse("listen 443 ssl;", &o) < 0);
	CHECK(strcmp(why, "t.conf:1: \"listen\" directive is not allowed here") == 0);
	CHECK(parse("http { location / { } }", &o) < 0);
	CHECK(parse(server("  location / { location / { } }"), &o) < 0);
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
	test_mutations();
	free(strings);
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
