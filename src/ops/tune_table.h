/* Reading the device's tune table (src/ops/tune_table.c), for the ops it tunes. */
#ifndef HVP_TUNE_TABLE_H
#define HVP_TUNE_TABLE_H

#include <iniparser.h>

#include "hvp/ops.h"

/* ctx's tune table parsed (free it with iniparser_freedict) and its path in path; NULL when
 * there is none or it cannot be read. */
dictionary *hvp_tune_table_load(const hvp_ctx *ctx, char *path, size_t size);

#endif
