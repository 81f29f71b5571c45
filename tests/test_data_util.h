/* Small datasets written at test time for the data tests (host only). */
#ifndef HVP_TEST_DATA_UTIL_H
#define HVP_TEST_DATA_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* A fresh folder under $TMPDIR (or /tmp), removed by td_cleanup. */
const char *td_dir(void);
void td_cleanup(void);
/* dir/name (static buffer rotation: valid for the next few calls). */
const char *td_path(const char *dir, const char *name);
void td_mkdir(const char *path);
void td_write(const char *path, const void *bytes, size_t n);
/* A deterministic pattern image h x w x c. */
uint8_t *td_pattern(int h, int w, int c, int seed);
void td_write_ppm(const char *path, const uint8_t *px, int h, int w, int c);
/* Writes a JPEG (quality 95, 4:4:4, or gray); returns its bytes (test_alloc'd) and size. */
uint8_t *td_write_jpeg(const char *path, const uint8_t *px, int h, int w, int c, size_t *size);

#endif
