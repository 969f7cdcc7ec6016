/*
 * tests/fuzz-pem.c - fuzz target for loading credentials: PEM decoding,
 * certificate and private key parsing, key matching, CA loading and CRLs
 * (PEM or DER, each verified against its CA).
 *
 * The input is up to four files separated by NUL bytes: the certificate
 * chain, the private key, the CA file and a CRL file (a missing part is an
 * empty file; an empty CRL part means no --crl). Each is written to a memfd
 * that tls_load() opens by its /proc/self/fd name, as it would open a file
 * named on the command line. An empty certificate part loads no chain and no
 * key (as --check-cert does), which lets CA and CRL inputs be fuzzed without
 * a private key in the corpus. The generation it returns is freed here, so
 * the fuzzer's leak check covers the loading code, error paths included.
 *
 * Built with libFuzzer by `make fuzz`, and with tests/fuzz-main.c as a
 * corpus replayer by `make test`.
 */
#include "../tls.c"
#include "../x509.c"

#include <assert.h>
#include <sys/mman.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
memfd_with(const uint8_t *data, size_t len, char *name, size_t name_len)
{
	int fd = memfd_create("fuzz-pem", MFD_CLOEXEC);

	if (fd < 0)
		abort();
	while (len > 0) {
		ssize_t n = write(fd, data, len);

		if (n <= 0)
			abort();
		data += n;
		len -= (size_t)n;
	}
	snprintf(name, name_len, "/proc/self/fd/%d", fd);
	return fd;
}

static void
ignore_warning(const char *message)
{
	(void)message;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tls_config config;
	struct tls_credentials *creds;
	char names[4][40], why[512];
	const uint8_t *part = data, *end = data + size;
	size_t lens[4];
	int fds[4], i;

	for (i = 0; i < 4; i++) {
		const uint8_t *nul = memchr(part, 0, (size_t)(end - part));
		const uint8_t *stop = i < 3 && nul ? nul : end;

		lens[i] = (size_t)(stop - part);
		fds[i] = memfd_with(part, lens[i], names[i], sizeof names[i]);
		part = stop < end ? stop + 1 : end;
	}
	memset(&config, 0, sizeof config);
	config.cert_file = lens[0] > 0 ? names[0] : NULL;
	config.key_file = names[1];
	config.ca_file = names[2];
	if (lens[3] > 0) {
		config.crl_files[0] = names[3];
		config.crl_file_count = 1;
	}
	config.mode = size && data[0] & 1 ? VERIFY_STRICT : VERIFY_ON;
	config.verify_depth = 1;
	why[0] = '\0';
	if (!(creds = tls_load(&config, why, sizeof why))) {
		assert(why[0] != '\0');
	} else {
		assert((creds->chain_len > 0 || !config.cert_file) && creds->anchor_count > 0);
		tls_warn_expiring(creds, 30, ignore_warning);
		free_credentials(creds);
	}
	for (i = 0; i < 4; i++)
		close(fds[i]);
	return 0;
}
