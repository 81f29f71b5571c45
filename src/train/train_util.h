/* Shared by the files of src/train/: config -> datasets and view settings. */
#ifndef HVP_TRAIN_UTIL_H
#define HVP_TRAIN_UTIL_H

#include "hvp/augment.h"
#include "hvp/config.h"
#include "hvp/data.h"

/* The dataset of a split; the test split comes from eval.test_root when that is set. */
hvp_status hvp_train_open_dataset(const hvp_config *cfg, const char *split, int is_test,
                                  hvp_dataset **out);
/* The views the config describes: nviews global views of data.image_size, one slot each. */
void hvp_train_view_config(const hvp_config *cfg, int nviews, hvp_view_config *vc);

#endif
