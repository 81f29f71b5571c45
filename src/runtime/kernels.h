/* Every kernel of the embedded cl/ programs, one line each: X(program, kernel) for the
 * kernel `kernel` of cl/<program>.cl. Launch sites name HVP_K_<kernel> (the kernel's own
 * name, so that grep finds both), and a misspelt kernel does not compile. Adding a kernel:
 * a line here; building a program fails while its kernels and its lines differ. */
#ifndef HVP_RUNTIME_KERNELS_H
#define HVP_RUNTIME_KERNELS_H

#include "hvp/runtime.h"

#define HVP_KERNELS(X)                                                                         \
    X(conv2d, conv2d_fwd_im2col)                                                               \
    X(conv2d, conv2d_bwd_col2im)                                                               \
    X(conv2d, conv2d_swap01)                                                                   \
    X(conv2d, conv2d_fwd_bias)                                                                 \
    X(conv2d, conv2d_bwd_bias)                                                                 \
    X(conv2d, conv2d_bwd_sum)                                                                  \
    X(conv2d, conv2d_fwd_igemm)                                                                \
    X(conv2d, conv2d_fwd_igemm_c16)                                                            \
    X(conv2d, conv2d_dx_phases)                                                                \
    X(conv2d, conv2d_w_pack)                                                                   \
    X(conv2d, conv2d_w_pack_panel)                                                             \
    X(conv2d, conv2d_dy_panels)                                                                \
    X(conv2d, conv2d_pad)                                                                      \
    X(conv2d, conv2d_bwd_dw_igemm)                                                             \
    X(conv2d, conv2d_bwd_dw_igemm_c16)                                                         \
    X(batchnorm, batchnorm_fwd_part)                                                           \
    X(batchnorm, batchnorm_fwd_final)                                                          \
    X(batchnorm, batchnorm_fwd_apply)                                                          \
    X(batchnorm, batchnorm_fwd_eval)                                                           \
    X(batchnorm, batchnorm_bwd_part)                                                           \
    X(batchnorm, batchnorm_bwd_final)                                                          \
    X(batchnorm, batchnorm_bwd_dx)                                                             \
    X(batchnorm, batchnorm_fwd_set)                                                            \
    X(batchnorm, batchnorm_bwd_set)                                                            \
    X(maxpool, maxpool_fwd)                                                                    \
    X(maxpool, maxpool_bwd)                                                                    \
    X(avgpool, avgpool_fwd)                                                                    \
    X(avgpool, avgpool_bwd)                                                                    \
    X(linear, linear_fwd_bias)                                                                 \
    X(layernorm, layernorm_fwd)                                                                \
    X(layernorm, layernorm_bwd_dx)                                                             \
    X(layernorm, layernorm_fwd_item)                                                           \
    X(layernorm, layernorm_bwd_dx_item)                                                        \
    X(layernorm, layernorm_bwd_params)                                                         \
    X(layernorm, layernorm_bwd_params_rows)                                                    \
    X(gelu, gelu_fwd)                                                                          \
    X(gelu, gelu_bwd)                                                                          \
    X(softmax, softmax_fwd)                                                                    \
    X(softmax, softmax_fwd_item)                                                               \
    X(softmax, softmax_bwd)                                                                    \
    X(softmax, softmax_bwd_item)                                                               \
    X(attention, attention_fwd_split)                                                          \
    X(attention, attention_fwd_merge)                                                          \
    X(attention, attention_bwd_split)                                                          \
    X(attention, attention_bwd_merge)                                                          \
    X(dropout, dropout_fwd)                                                                    \
    X(dropout, dropout_bwd)                                                                    \
    X(dropout, dropout_bits)                                                                   \
    X(dropout, dropout_fwd_path)                                                               \
    X(dropout, dropout_bwd_path)                                                               \
    X(add, add_fwd)                                                                            \
    X(add, add_relu_fwd)                                                                       \
    X(add, add_fwd_acc)                                                                        \
    X(add, add_axpby)                                                                          \
    X(add, add_diagonal)                                                                       \
    X(gemm, gemm_dot_4x4)                                                                      \
    X(gemm, gemm_lds)                                                                          \
    X(gemm, gemm_pack)                                                                         \
    X(gemm, gemm_pack_t)                                                                       \
    X(gemm, gemm_reg_4x32)                                                                     \
    X(gemm, gemm_reg_6x32)                                                                     \
    X(gemm, gemm_reg_8x32)                                                                     \
    X(gemm, gemm_reg_12x32)                                                                    \
    X(gemm, gemm_reg_14x32)                                                                    \
    X(gemm, gemm_reg_8x16)                                                                     \
    X(gemm, gemm_reg_4x16)                                                                     \
    X(gemm, gemm_reg_4x8)                                                                      \
    X(relu, relu_fwd)                                                                          \
    X(relu, relu_bwd)                                                                          \
    X(augment, augment_crop)                                                                   \
    X(augment, augment_color)                                                                  \
    X(augment, augment_color_item)                                                             \
    X(augment, augment_finish)                                                                 \
    X(blur, blur_weights)                                                                      \
    X(blur, blur_h)                                                                            \
    X(blur, blur_v)                                                                            \
    X(blur, blur_fft_pad)                                                                      \
    X(blur, blur_fft_transfer)                                                                 \
    X(blur, blur_fft_mul)                                                                      \
    X(blur, blur_fft_crop)                                                                     \
    X(tensor, fill_u32)                                                                        \
    X(tensor, copy_u32)                                                                        \
    X(tensor, copy_u8)                                                                         \
    X(l2norm, l2norm_fwd)                                                                      \
    X(l2norm, l2norm_fwd_item)                                                                 \
    X(l2norm, l2norm_bwd)                                                                      \
    X(l2norm, l2norm_bwd_item)                                                                 \
    X(weight_norm, weight_norm_fwd)                                                            \
    X(weight_norm, weight_norm_bwd)                                                            \
    X(cosine, cosine_fwd)                                                                      \
    X(cosine, cosine_fwd_item)                                                                 \
    X(cosine, cosine_bwd)                                                                      \
    X(cosine, cosine_bwd_item)                                                                 \
    X(cross_entropy, cross_entropy_fwd)                                                        \
    X(cross_entropy, cross_entropy_fwd_item)                                                   \
    X(cross_entropy, cross_entropy_bwd)                                                        \
    X(cross_entropy, cross_entropy_bwd_item)                                                   \
    X(gather, gather_fwd)                                                                      \
    X(gather, gather_bwd_first)                                                                \
    X(gather, gather_bwd_next)                                                                 \
    X(gather, gather_bwd)                                                                      \
    X(argmax, argmax_fwd)                                                                      \
    X(reduce, reduce_fwd)                                                                      \
    X(reduce, col_sums)                                                                        \
    X(reduce, col_sums_rows)                                                                   \
    X(optim_sgd, optim_sgd)                                                                    \
    X(optim_sgd, optim_lars)                                                                   \
    X(optim_adamw, optim_adamw)                                                                \
    X(optim_util, optim_ema)                                                                   \
    X(optim_util, optim_clip)                                                                  \
    X(optim_flat, optim_seg_norm_partials)                                                     \
    X(optim_flat, optim_seg_norm_final)                                                        \
    X(optim_flat, optim_sgd_flat)                                                              \
    X(optim_flat, optim_lars_flat)                                                             \
    X(optim_flat, optim_adamw_flat)                                                            \
    X(optim_flat, optim_clip_flat)                                                             \
    X(optim_flat, optim_ema_pairs)                                                             \
    X(hvp_select, hvp_select_pairs)                                                            \
    X(hvp_select, hvp_select_locals)                                                           \
    X(knn, topk_rows)                                                                          \
    X(vit_embed, vit_embed_fwd)                                                                \
    X(vit_embed, vit_embed_bwd_c)                                                              \
    X(vit_embed, vit_embed_bwd_params)                                                         \
    X(vit_embed, vit_embed_cls_fwd)                                                            \
    X(vit_embed, vit_embed_cls_bwd)                                                            \
    X(vit_mask, vit_mask_fwd)                                                                  \
    X(vit_mask, vit_mask_bwd_c)                                                                \
    X(vit_mask, vit_mask_bwd_e)                                                                \
    X(vit_pos_interp, vit_pos_interp_fwd)                                                      \
    X(vit_pos_interp, vit_pos_interp_bwd)

typedef enum hvp_kernel_id {
#define HVP_KERNEL_ID(program, kernel) HVP_K_##kernel,
    HVP_KERNELS(HVP_KERNEL_ID)
#undef HVP_KERNEL_ID
    HVP_K_COUNT
} hvp_kernel_id;

/* The kernel `id`. Its program is built at the first use of any of its kernels, and all of
 * them are created then; after that this is an array read. The pointer stays valid until
 * the context is destroyed. */
hvp_status hvp_kernel_get(hvp_ctx *ctx, hvp_kernel_id id, hvp_kernel **out);
/* The kernel's name in its cl/ file, for messages. */
const char *hvp_kernel_name(hvp_kernel_id id);

#endif
