/*
 * tests/fuzz-main.c - runs a libFuzzer target over files, without
 * libFuzzer: `tests/replay-http tests/corpus/http` replays the checked-in
 * corpus (every file of each directory argument, or the files named), so
 * `make test` needs no clang. Built with the sanitizers, a crash or a
 * report fails the run; it prints how many inputs it replayed.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static unsigned long runs;

static int
run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	unsigned char *data;
	long size;

	if (!f) {
		perror(path);
		return -1;
	}
	if (fseek(f, 0, SEEK_END) < 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0) {
		perror(path);
		fclose(f);
		return -1;
	}
	data = malloc(size ? (size_t)size : 1);
	if (!data || fread(data, 1, (size_t)size, f) != (size_t)size) {
		fprintf(stderr, "%s: cannot read\n", path);
		free(data);
		fclose(f);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(data, (size_t)size);
	free(data);
	runs++;
	return 0;
}

int
main(int argc, char **argv)
{
	int i, bad = 0;

	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	for (i = 1; i < argc; i++) {
		struct stat st;
		struct dirent **names;
		int n, k;

		if (stat(argv[i], &st) < 0 || !S_ISDIR(st.st_mode)) {
			bad |= run_file(argv[i]);
			continue;
		}
		if ((n = scandir(argv[i], &names, NULL, alphasort)) < 0) {
			perror(argv[i]);
			bad = -1;
			continue;
		}
		for (k = 0; k < n; k++) {
			char path[4096];

			if (names[k]->d_name[0] != '.') {
				snprintf(path, sizeof path, "%s/%s", argv[i], names[k]->d_name);
				bad |= run_file(path);
			}
			free(names[k]);
		}
		free(names);
	}
	printf("replayed %lu inputs\n", runs);
	return bad ? 1 : 0;
}
