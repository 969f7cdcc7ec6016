/*
 * tests/fuzz-nginx.c - fuzz target for the --nginx-conf reader,
 * nginx_conf_parse(): any text, as the file /etc/nginx/t.conf. On success
 * every string it put in the options must lie inside the one allocation it
 * returns (or be a default that was there before); on failure the options
 * must be untouched and the message must start with the file name.
 *
 * Built with libFuzzer by `make fuzz`, and with tests/fuzz-main.c as a
 * corpus replayer by `make test`.
 */
#include "../nginx_conf.c"

#include <assert.h>
#include <malloc.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
ignore_warning(const char *message)
{
	assert(strncmp(message, "/etc/nginx/t.conf:", 18) == 0);
}

static struct options
defaults(void)
{
	struct options o = OPTIONS_DEFAULTS;

	return o;
}

/* A string from the file lies in `strings`; others are the defaults. */
static void
check_string(const char *s, const char *strings, size_t cap, const char *before)
{
	if (!s || s == before)
		return;
	assert(strings && s >= strings && s < strings + cap);
	assert(memchr(s, '\0', (size_t)(strings + cap - s)));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct options o = defaults(), before = defaults(), untouched;
	char *strings = NULL, why[512];
	char *text;
	size_t cap, i, k;

	if (size > NGINX_CONF_MAX_BYTES)
		return 0;
	/* An exact-size copy, so any read past the end is caught. */
	if (!(text = malloc(size ? size : 1)))
		return 0;
	memcpy(text, data, size);
	untouched = o;
	why[0] = '\0';
	if (nginx_conf_parse(text, size, "/etc/nginx/t.conf", &o, &strings,
	    ignore_warning, why, sizeof why) < 0) {
		assert(!strings);
		assert(memcmp(&o, &untouched, sizeof o) == 0);
		assert(strncmp(why, "/etc/nginx/t.conf:", 18) == 0);
	} else {
		/* The strings' block is at most the text's size plus the paths it
		 * resolves against the file's directory. */
		cap = strings ? malloc_usable_size(strings) : 0;
		check_string(o.root, strings, cap, before.root);
		check_string(o.index, strings, cap, before.index);
		check_string(o.access_log, strings, cap, before.access_log);
		check_string(o.error_log, strings, cap, before.error_log);
		check_string(o.tls.cert_file, strings, cap, before.tls.cert_file);
		check_string(o.tls.key_file, strings, cap, before.tls.key_file);
		check_string(o.tls.ca_file, strings, cap, before.tls.ca_file);
		for (i = 0; i < o.tls.crl_file_count; i++)
			check_string(o.tls.crl_files[i], strings, cap, NULL);
		for (i = 0; i < (size_t)o.listen_count; i++)
			check_string(o.listen[i], strings, cap, NULL);
		/* The table lies in the strings' block, and so does all it names. */
		assert(o.location_count >= 1 && o.location_count <= HTTP_MAX_LOCATIONS);
		assert((char *)o.locations >= strings && (char *)(o.locations
		    + o.location_count) <= strings + cap);
		for (k = 0; k < (size_t)o.location_count; k++) {
			const struct http_location *l = &o.locations[k];

			check_string(l->charset, strings, cap, NULL);
			check_string(l->dir, strings, cap, NULL);
			if (l->index && strcmp(l->index, "index.html") != 0)
				check_string(l->index, strings, cap, NULL);
			check_string(l->return_text, strings, cap, NULL);
			assert(k == 0 || l->path[0] == '/');
			for (i = 0; i < (size_t)l->header_count; i++) {
				check_string(l->headers[i].name, strings, cap, NULL);
				check_string(l->headers[i].value, strings, cap, NULL);
				assert(!strpbrk(l->headers[i].value, "\r\n"));
			}
			for (i = 0; i < (size_t)l->try_count; i++)
				check_string(l->try_files[i], strings, cap, NULL);
			assert(l->access_count <= HTTP_MAX_ACCESS);
			assert(l->ident_count <= HTTP_MAX_ID_RULES);
			for (i = 0; i < (size_t)l->ident_count; i++)
				assert(!l->ident[i].map || ((char *)l->ident[i].map >= strings
				    && (char *)(l->ident[i].map + 1) <= strings + cap));
			assert(!l->types || ((char *)l->types >= strings
			    && (char *)(l->types + l->type_count) <= strings + cap));
		}
		for (i = 0; i < (size_t)o.redirect_count; i++) {
			check_string(o.redirect[i].listen, strings, cap, NULL);
			check_string(o.redirect[i].target, strings, cap, NULL);
			check_string(o.redirect[i].server_name, strings, cap, NULL);
			assert(o.redirect[i].code >= 301 && o.redirect[i].code <= 308);
		}
		free(strings);
	}
	free(text);
	return 0;
}
