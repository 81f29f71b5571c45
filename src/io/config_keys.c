/* The table of every configuration key: section, key, type, field, default, range, help.
 * Adding a key = one field in hvp_config (include/hvp/config.h) + one line here. */
#include <stddef.h>

#include "hvp/config.h"

#define OFF(field) offsetof(hvp_config, field)
#define INT(s, k, field, def, lo, hi, help) \
    {s, k, HVP_CFG_INT, OFF(field), def, lo, hi, 0, 0, NULL, help}
#define FLT(s, k, field, def, lo, hi, help) \
    {s, k, HVP_CFG_FLOAT, OFF(field), def, lo, hi, 0, 0, NULL, help}
#define BOOL(s, k, field, def, help) \
    {s, k, HVP_CFG_BOOL, OFF(field), def, 0, 1, 0, 0, NULL, help}
#define STR(s, k, field, def, help) \
    {s, k, HVP_CFG_STRING, OFF(field), def, 0, 0, 0, 0, NULL, help}
#define ENUM(s, k, field, def, choices, help) \
    {s, k, HVP_CFG_ENUM, OFF(field), def, 0, 0, 0, 0, choices, help}
#define FLTS(s, k, field, def, lo, hi, nmin, nmax, help) \
    {s, k, HVP_CFG_FLOATS, OFF(field), def, lo, hi, nmin, nmax, NULL, help}

#define BIG 1e9 /* "no practical upper bound" for ints */

const char *const hvp_config_sections[] = {"run", "device", "data", "model", "method", "hvp",
                                           "optim", "train", "eval", "log", NULL};

static const char *const formats[] = {"auto", "imagefolder", "folder", "cifar10", "cifar100", "idx", NULL};
#define NAME_OF_ARCH(name, family, variant) #name,
static const char *const archs[] = {HVP_ARCHS(NAME_OF_ARCH) NULL};
#define NAME_OF_METHOD(name, prefix) #name,
static const char *const methods[] = {HVP_METHODS(NAME_OF_METHOD) NULL};
static const char *const optims[] = {"sgd", "lars", "adamw", NULL};
static const char *const schedules[] = {"cosine", "constant", NULL};
static const char *const select_by[] = {"loss", "overlap", NULL};
static const char *const recipes[] = {"default", "simsiam", "dino", NULL};
static const char *const finetune_optims[] = {"sgd", "adamw", NULL}; /* = hvp_optim_kind 0, 2 */
static const char *const progress[] = {"auto", "tty", "plain", "off", NULL};

const hvp_config_key hvp_config_keys[] = {
    /* [run] */
    STR("run", "name", run.name, "hvp", "name of the run (names its directory)"),
    STR("run", "dir", run.dir, "", "run directory for logs and checkpoints; empty: runs/<name>"),
    INT("run", "seed", run.seed, "0", 0, 2147483647, "seed of every random draw (views, init, order)"),

    /* [device] */
    STR("device", "select", device.select, "",
        "device index (as `hvp devices` lists) or part of its platform/device name; empty: $HVP_DEVICE or the first"),
    BOOL("device", "share", device.share, "false",
         "data-parallel runs: ranks on one machine may share devices when fewer match device.select than there are ranks"),
    BOOL("device", "profile", device.profile, "false", "print time per kernel at exit"),
    INT("device", "memory_limit_mb", device.memory_limit_mb, "0", 0, 1 << 30,
        "most device memory hvp may hold, in MiB; 0: the device's global memory"),

    /* [data] */
    ENUM("data", "format", data.format, "auto", formats,
         "dataset layout; auto: guessed from the files under root"),
    STR("data", "root", data.root, "", "dataset directory (ImageFolder: root/CLASS/*.jpg)"),
    INT("data", "channels", data.channels, "0", 0, 3, "image channels, 1 or 3; 0: from the dataset"),
    INT("data", "workers", data.workers, "2", 0, 256, "decoding threads; 0: decode on the main thread"),
    INT("data", "prefetch", data.prefetch, "2", 1, 64, "batches decoded ahead"),
    INT("data", "batch_size", data.batch_size, "256", 1, 1048576, "images per step (before views)"),
    BOOL("data", "drop_last", data.drop_last, "true", "drop the last incomplete batch of an epoch"),
    INT("data", "image_size", data.image_size, "224", 8, 4096, "side of a training view in pixels"),
    INT("data", "num_classes", data.num_classes, "0", 0, 1000000, "classes (for evaluation); 0: from the dataset"),
    FLTS("data", "crop_scale", data.crop_scale, "0.2, 1.0", 0.0, 1.0, 2, 2,
         "random resized crop: area fraction range (min, max)"),
    FLT("data", "hflip_prob", data.hflip_prob, "0.5", 0, 1, "probability of a horizontal flip"),
    FLTS("data", "color_jitter", data.color_jitter, "0.4, 0.4, 0.4, 0.1", 0.0, 1.0, 4, 4,
         "colour jitter strength: brightness, contrast, saturation, hue"),
    FLT("data", "jitter_prob", data.jitter_prob, "0.8", 0, 1, "probability of colour jitter"),
    FLT("data", "grayscale_prob", data.grayscale_prob, "0.2", 0, 1, "probability of grayscale"),
    FLT("data", "blur_prob", data.blur_prob, "0.5", 0, 1, "probability of Gaussian blur"),
    FLTS("data", "blur_sigma", data.blur_sigma, "0.1, 2.0", 0.0, 100.0, 2, 2,
         "Gaussian blur sigma range (min, max), in pixels at 224 px"),
    FLT("data", "solarize_prob", data.solarize_prob, "0.0", 0, 1, "probability of solarization"),
    FLT("data", "odd_blur_prob", data.odd_blur_prob, "-1", -1, 1,
        "blur probability of the global views in odd slots (DINO's official 0.1, with "
        "blur_prob = 1.0 for the even ones); -1: blur_prob"),
    FLT("data", "odd_solarize_prob", data.odd_solarize_prob, "-1", -1, 1,
        "solarization probability of the global views in odd slots (DINO's official 0.2, "
        "with solarize_prob = 0 for the even ones); -1: solarize_prob"),
    FLT("data", "local_blur_prob", data.local_blur_prob, "-1", -1, 1,
        "DINO/iBOT: blur probability of local crops (official 0.5); -1: blur_prob"),
    FLTS("data", "mean", data.mean, "0.485, 0.456, 0.406", -10.0, 10.0, 1, 3,
         "per-channel mean subtracted after augmentation (one value or one per channel)"),
    FLTS("data", "std", data.std, "0.229, 0.224, 0.225", 1e-6, 100.0, 1, 3,
         "per-channel standard deviation divided by (one value or one per channel)"),
    INT("data", "local_crops", data.local_crops, "0", 0, 64, "DINO/iBOT: number of small local crops"),
    INT("data", "local_image_size", data.local_image_size, "96", 8, 4096, "DINO/iBOT: side of a local crop"),
    FLTS("data", "local_crop_scale", data.local_crop_scale, "0.05, 0.4", 0.0, 1.0, 2, 2,
         "DINO/iBOT: area fraction range of local crops"),

    /* [model] */
    ENUM("model", "arch", model.arch, "resnet50", archs, "backbone (torchvision / timm names and layouts)"),
    BOOL("model", "cifar_stem", model.cifar_stem, "false",
         "ResNet: 3x3 stride-1 first convolution and no max pool (small images)"),
    FLT("model", "width", model.width, "1.0", 0.03125, 8.0, "ResNet: width multiplier (1.0: 64 channels in the stem)"),
    BOOL("model", "zero_init_residual", model.zero_init_residual, "true",
         "ResNet: last BN of each residual block starts at zero (as official SimSiam)"),
    INT("model", "patch_size", model.patch_size, "16", 1, 256, "ViT: patch side in pixels"),
    FLT("model", "drop_path", model.drop_path, "0.1", 0, 1, "ViT: stochastic depth rate"),
    STR("model", "init", model.init, "",
        "start the backbone from this safetensors file (torchvision / timm names, as hvp export writes)"),

    /* [method] */
    ENUM("method", "name", method.name, "simsiam", methods, "self-supervised method"),
    INT("method", "proj_dim", method.proj_dim, "2048", 1, 1048576, "projector output dimension"),
    INT("method", "proj_hidden_dim", method.proj_hidden_dim, "2048", 1, 1048576, "projector hidden dimension"),
    INT("method", "proj_layers", method.proj_layers, "3", 1, 16, "projector layers"),
    INT("method", "pred_dim", method.pred_dim, "512", 1, 1048576, "SimSiam: predictor hidden dimension"),
    FLT("method", "temperature", method.temperature, "0.1", 1e-4, 100, "SimCLR: NT-Xent temperature"),
    INT("method", "out_dim", method.out_dim, "65536", 1, 1048576, "DINO/iBOT: prototypes of the head"),
    INT("method", "bottleneck_dim", method.bottleneck_dim, "256", 1, 1048576, "DINO/iBOT: head bottleneck dimension"),
    BOOL("method", "norm_last_layer", method.norm_last_layer, "true", "DINO/iBOT: weight-normalised last layer with fixed norm"),
    FLT("method", "teacher_temp", method.teacher_temp, "0.04", 1e-4, 100, "DINO/iBOT: teacher temperature after warm-up"),
    FLT("method", "warmup_teacher_temp", method.warmup_teacher_temp, "0.04", 1e-4, 100,
        "DINO/iBOT: teacher temperature at the start"),
    INT("method", "warmup_teacher_temp_epochs", method.warmup_teacher_temp_epochs, "0", 0, 1000000,
        "DINO/iBOT: epochs of linear teacher temperature warm-up"),
    FLT("method", "student_temp", method.student_temp, "0.1", 1e-4, 100, "DINO/iBOT: student temperature"),
    FLT("method", "teacher_momentum", method.teacher_momentum, "0.996", 0, 1,
        "DINO/iBOT/BYOL: EMA momentum of the teacher at the start, cosine to 1 (BYOL: solo-learn's base_tau, to method.final_tau)"),
    FLT("method", "center_momentum", method.center_momentum, "0.9", 0, 1, "DINO/iBOT: EMA momentum of the center"),
    INT("method", "patch_out_dim", method.patch_out_dim, "8192", 1, 1048576, "iBOT: prototypes of the patch head (shared head: must equal out_dim)"),
    BOOL("method", "shared_head", method.shared_head, "true",
         "iBOT: the student's patch tokens share the last layer of the class token (official ViT-S/B recipes); false: their own last_layer2 of patch_out_dim outputs"),
    BOOL("method", "shared_head_teacher", method.shared_head_teacher, "true",
         "iBOT: the same for the teacher (official default true; false needs shared_head = false)"),
    FLT("method", "teacher_patch_temp", method.teacher_patch_temp, "0.07", 1e-4, 100,
        "iBOT: teacher temperature of the patch tokens after warm-up"),
    FLT("method", "warmup_teacher_patch_temp", method.warmup_teacher_patch_temp, "0.04", 1e-4, 100,
        "iBOT: initial patch temperature, warmed up over method.warmup_teacher_temp_epochs as the official code"),
    FLTS("method", "mask_ratio", method.mask_ratio, "0.1, 0.5", 0.0, 1.0, 2, 2, "iBOT: range of the masked patch fraction (blockwise masks, as BEiT / official iBOT)"),
    FLT("method", "mask_prob", method.mask_prob, "0.5", 0, 1, "iBOT: probability that a view is masked"),
    INT("method", "freeze_last_layer", method.freeze_last_layer, "1", 0, 1000000,
        "DINO: epochs during which the head's last layer is not updated"),
    INT("method", "pred_hidden_dim", method.pred_hidden_dim, "4096", 1, 1048576, "BYOL: predictor hidden dimension (solo-learn's pred_hidden_dim)"),
    FLT("method", "final_tau", method.final_tau, "1.0", 0, 1, "BYOL: EMA momentum of the momentum network at the end (solo-learn's final_tau)"),

    /* [hvp] */
    BOOL("hvp", "enabled", hvp.enabled, "false", "hard view selection: train on the hardest pair of views"),
    INT("hvp", "views", hvp.views, "4", 2, 64, "candidate views per image"),
    INT("hvp", "select_every", hvp.select_every, "1", 1, 1000000000, "select every k-th step, a random pair otherwise"),
    INT("hvp", "select_resolution", hvp.select_resolution, "0", 0, 4096,
        "score candidates at this side in pixels; 0: data.image_size"),
    FLT("hvp", "random_fraction", hvp.random_fraction, "0.0", 0, 1, "share of samples that keep a random pair"),
    INT("hvp", "local_candidates", hvp.local_candidates, "0", 0, 64,
        "local crops drawn per image, of which data.local_crops are kept with the pair: the "
        "combination of the highest loss (DINO, as the paper); 0 or data.local_crops: none"),
    INT("hvp", "limit_comparisons", hvp.limit_comparisons, "0", 0, 65536,
        "with local selection: score at most this many (pair, locals) combinations, drawn "
        "per step; 0: all (exact)"),
    FLT("hvp", "score_fraction", hvp.score_fraction, "1.0", 1e-6, 1,
        "share of a batch's images whose candidates are scored; the rest keep a random pair unscored (ours)"),
    ENUM("hvp", "select_by", hvp.select_by, "loss", select_by,
         "loss: the method's loss of each pair (the paper's); overlap: the pair whose crops overlap least, no forward (ours)"),

    /* [optim] */
    ENUM("optim", "name", optim.name, "sgd", optims, "optimizer"),
    FLT("optim", "lr", optim.lr, "0.05", 0, 1000, "base learning rate (times batch_size/256 when scale_lr)"),
    BOOL("optim", "scale_lr", optim.scale_lr, "true", "scale lr linearly by batch_size/256"),
    ENUM("optim", "schedule", optim.schedule, "cosine", schedules, "learning rate schedule after warm-up"),
    FLT("optim", "momentum", optim.momentum, "0.9", 0, 1, "SGD/LARS momentum"),
    FLT("optim", "weight_decay", optim.weight_decay, "1e-4", 0, 10, "weight decay"),
    FLT("optim", "weight_decay_end", optim.weight_decay_end, "-1", -1, 10,
        "weight decay at the end of a cosine schedule from weight_decay (DINO: 0.4); -1: constant"),
    BOOL("optim", "fix_pred_lr", optim.fix_pred_lr, "true", "SimSiam's predictor keeps the base lr (no schedule); other methods have no such rule"),
    INT("optim", "warmup_epochs", optim.warmup_epochs, "0", 0, 1000000, "epochs of linear lr warm-up"),
    FLT("optim", "min_lr", optim.min_lr, "0.0", 0, 1000, "learning rate at the end of the cosine schedule"),
    FLT("optim", "clip_grad", optim.clip_grad, "0.0", 0, 1e9, "clip the global gradient norm to this; 0: off"),
    FLTS("optim", "betas", optim.betas, "0.9, 0.999", 0.0, 1.0, 2, 2, "AdamW: (beta1, beta2)"),
    FLT("optim", "eps", optim.eps, "1e-8", 0, 1, "AdamW: epsilon"),
    FLT("optim", "lars_eta", optim.lars_eta, "0.001", 0, 1, "LARS: trust coefficient"),
    BOOL("optim", "lars_clip_lr", optim.lars_clip_lr, "false", "LARS: solo-learn's clip_lr, trust ratio capped at 1 after dividing by the lr"),
    BOOL("optim", "lars_exclude_bias_bn", optim.lars_exclude_bias_bn, "true",
         "LARS: no adaptation or weight decay for biases and norm parameters"),

    /* [train] */
    INT("train", "epochs", train.epochs, "100", 1, 1000000, "epochs to train"),
    INT("train", "save_every", train.save_every, "10", 0, 1000000,
        "save a checkpoint every N epochs (and always at the end); 0: only at the end"),
    INT("train", "save_every_steps", train.save_every_steps, "0", 0, 2147483647,
        "also save a checkpoint every N steps, inside epochs too (a resume continues inside the epoch); 0: off"),
    INT("train", "keep_last", train.keep_last, "0", 0, 1000000, "checkpoints kept in the run directory; 0: all"),
    INT("train", "max_steps", train.max_steps, "0", 0, 2147483647, "stop after this many steps in total; 0: all"),
    FLT("train", "flops_budget", train.flops_budget, "0", 0, 1e30,
        "train for as many steps as spend these FLOPs (counted from shapes; replaces epochs and max_steps); 0: off"),
    STR("train", "match", train.match, "",
        "\"CONFIG [section.key=value ...]\": spend the FLOPs that run would (replaces epochs and max_steps); \"\": off"),
    STR("train", "resume", train.resume, "auto",
        "auto: continue from the latest checkpoint of the run dir; none: start afresh; or a checkpoint path"),

    /* [eval] */
    INT("eval", "every", eval.every, "10", 0, 1000000, "kNN evaluation every N epochs (and at the end); 0: never"),
    INT("eval", "knn_k", eval.knn_k, "20", 1, 100000, "kNN: neighbours that vote"),
    FLT("eval", "knn_temperature", eval.knn_temperature, "0.07", 1e-4, 100, "kNN: temperature of the vote weights"),
    STR("eval", "test_root", eval.test_root, "", "test split; empty: the dataset's own test split"),
    INT("eval", "batch_size", eval.batch_size, "0", 0, 1048576, "images per feature batch; 0: data.batch_size"),
    INT("eval", "knn_train_limit", eval.knn_train_limit, "0", 0, 2147483647, "kNN and linear probe: a fixed random sample of N training images; 0: all"),
    INT("eval", "linear_epochs", eval.linear_epochs, "100", 0, 1000000, "linear probe (`hvp linear`): epochs over the frozen features"),
    INT("eval", "linear_batch_size", eval.linear_batch_size, "256", 1, 1048576, "linear probe: features per SGD step"),
    FLT("eval", "linear_lr", eval.linear_lr, "0.1", 0, 1000, "linear probe: SGD lr for a batch of 256 (scaled by batch/256), cosine decay"),
    FLT("eval", "linear_weight_decay", eval.linear_weight_decay, "0", 0, 10, "linear probe: weight decay of the weights"),
    BOOL("eval", "at_start", eval.at_start, "false", "also evaluate before the first step (the network at initialisation)"),
    INT("eval", "knn_test_limit", eval.knn_test_limit, "0", 0, 2147483647, "kNN and linear probe: a fixed random sample of N test images; 0: all"),
    BOOL("eval", "augment", eval.augment, "false",
         "`hvp linear`: train on RandomResizedCrop + flip views (32-px images: RandomCrop(32, padding 4) + flip), "
         "features recomputed each step by the frozen backbone; false: the fast probe on fixed centre-crop features"),
    ENUM("eval", "recipe", eval.recipe, "default", recipes,
         "`hvp linear`: default (SGD, the eval.linear_* keys); simsiam (LARS, batch 4096, lr 0.1 x batch/256, 90 epochs); "
         "dino (SGD, batch 1024, lr 0.001 x batch/256, 100 epochs); an eval.linear_* key given explicitly wins"),
    INT("eval", "last_blocks", eval.last_blocks, "1", 1, 64,
        "`hvp linear` on a ViT with eval.augment: features = the class token of each of the last N blocks through the "
        "final norm, concatenated (DINO's n_last_blocks; its recipe takes 4)"),
    STR("eval", "train_root", eval.train_root, "",
        "evaluation's training split (kNN memory, probes, fine-tuning) from this dataset; empty: data.root"),
    BOOL("eval", "online_probe", eval.online_probe, "false",
         "train a linear classifier on the detached (eval-mode) backbone features of each step's first views with "
         "the batch's labels (its own SGD; restarts from zero on a resume); its top-1/top-5 on the test sample "
         "(eval.knn_test_limit) each epoch in the log, epochs.csv/jsonl and TensorBoard; needs labelled data"),
    FLT("eval", "online_probe_lr", eval.online_probe_lr, "0.1", 0, 1000,
        "online probe: SGD lr (momentum 0.9, no decay) for a batch of 256, constant"),
    INT("eval", "finetune_epochs", eval.finetune_epochs, "100", 1, 1000000, "`hvp finetune`: epochs"),
    INT("eval", "finetune_batch_size", eval.finetune_batch_size, "256", 1, 1048576, "`hvp finetune`: images per step"),
    ENUM("eval", "finetune_optim", eval.finetune_optim, "sgd", finetune_optims,
         "`hvp finetune`: sgd (momentum optim.momentum) or adamw (optim.betas, optim.eps)"),
    FLT("eval", "finetune_lr", eval.finetune_lr, "0.1", 0, 1000,
        "`hvp finetune`: lr for a batch of 256 (scaled by batch/256), linear warm-up then cosine to 0"),
    FLT("eval", "finetune_weight_decay", eval.finetune_weight_decay, "5e-4", 0, 10,
        "`hvp finetune`: weight decay (not on biases and norm parameters)"),
    INT("eval", "finetune_warmup_epochs", eval.finetune_warmup_epochs, "5", 0, 1000000,
        "`hvp finetune`: epochs of linear warm-up"),
    FLT("eval", "finetune_label_smoothing", eval.finetune_label_smoothing, "0", 0, 0.99,
        "`hvp finetune`: label smoothing e (targets (1 - e) one-hot + e / classes)"),

    /* [log] */
    INT("log", "every", log.every, "10", 1, 1000000000, "steps between progress lines and step metrics"),
    BOOL("log", "tensorboard", log.tensorboard, "true", "write TensorBoard event files to the run directory"),
    BOOL("log", "csv", log.csv, "true", "write steps.csv and epochs.csv"),
    BOOL("log", "jsonl", log.jsonl, "true", "write steps.jsonl and epochs.jsonl"),
    BOOL("log", "chosen_pairs", log.chosen_pairs, "false",
         "write chosen_pairs.csv: the pair of views hard view selection chose per step and image"),
    ENUM("log", "progress", log.progress, "auto", progress,
         "progress line: auto (in place on a terminal), tty, plain lines, off"),
};

const int hvp_config_nkeys = (int)(sizeof hvp_config_keys / sizeof hvp_config_keys[0]);

_Static_assert(sizeof hvp_config_keys / sizeof hvp_config_keys[0] <= HVP_CFG_MAX_KEYS,
               "raise HVP_CFG_MAX_KEYS");
