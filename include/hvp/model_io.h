/* A model's state (hvp_state: parameters and buffers) and an optimizer's state to and from
 * safetensors, under torchvision / official names, so weights travel to and from PyTorch. */
#ifndef HVP_MODEL_IO_H
#define HVP_MODEL_IO_H

#include "hvp/nn.h"
#include "hvp/safetensors.h"

/* Adds every parameter and buffer (downloaded; num_batches_tracked as an I64 scalar). */
hvp_status hvp_state_write(hvp_ctx *ctx, const hvp_state *s, hvp_st_writer *w);
/* Loads every parameter and buffer of s from f, where each is named prefix + its name
 * (prefix NULL or ""), checking dtypes and shapes; a tensor of s missing from f, or one
 * holding a NaN or Inf (HVP_ERR_NUMERIC), is an error naming it and the file. Tensors of f that s lacks are ignored unless strict (then f must hold
 * exactly the model: a PyTorch checkpoint's fc layer, say, is an error). */
hvp_status hvp_state_read(hvp_ctx *ctx, hvp_state *s, const hvp_st_file *f, const char *prefix,
                          int strict);

/* The optimizer's buffers ("<param>.momentum_buffer", ...) and its step count; reading
 * refuses non-finite buffers as hvp_state_read does, and a negative step count. */
hvp_status hvp_optim_write(hvp_ctx *ctx, const hvp_optim *o, hvp_st_writer *w);
hvp_status hvp_optim_read(hvp_ctx *ctx, hvp_optim *o, const hvp_st_file *f);

/* model.init: loads the backbone weights of f (torchvision / timm names, a classifier fc.* or
 * head.* ignored, num_batches_tracked accepted) into every place of s that holds a whole
 * backbone under those names (root + name for each tensor); *roots gets how many. A file
 * that fits no place is an error naming a tensor without a counterpart; a misshaped tensor
 * is an error naming both. */
hvp_status hvp_state_init_backbone(hvp_ctx *ctx, hvp_state *s, const hvp_st_file *f,
                                   int *roots);

/* The tensors of the weights file named prefix + X, written to out as X (the backbone of
 * HVP_METHODS' prefix, under torchvision / timm names), without the classifier names the
 * PyTorch model lacks once its head is nn.Identity (fc.*, head.*) and iBOT's masked_embed;
 * *ntensors gets how many. A file with none under the prefix is an error. */
hvp_status hvp_export_backbone(const char *weights, const char *prefix, const char *out,
                               int *ntensors);

#endif
