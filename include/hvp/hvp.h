/* hvp: Hard View Pretraining on OpenCL devices. The umbrella header. */
#ifndef HVP_HVP_H
#define HVP_HVP_H

#include "hvp/status.h"
#include "hvp/runtime.h"
#include "hvp/dist.h"
#include "hvp/tensor.h"
#include "hvp/rng.h"
#include "hvp/ops.h"
#include "hvp/image.h"
#include "hvp/data.h"

/* io: config, safetensors, checkpoints, logs */
#include "hvp/config.h"
#include "hvp/safetensors.h"
#include "hvp/checkpoint.h"
#include "hvp/classify.h"
#include "hvp/logs.h"
#include "hvp/online_probe.h"
#include "hvp/optim.h"
#include "hvp/augment.h"

#endif
