/* Run configuration: an INI file (sections [run] [device] [data] [model] [method] [hvp]
 * [optim] [train] [eval] [log]) plus `section.key=value` overrides, validated against ONE
 * table of every key (src/io/config_keys.c: type, default, range, help) into the typed
 * struct hvp_config. Unknown keys and bad values are errors naming the file, line, key and
 * the expected form, with the nearest key suggested for a typo. */
#ifndef HVP_CONFIG_H
#define HVP_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "hvp/data.h"  /* hvp_data_format */
#include "hvp/optim.h" /* hvp_optim_kind */
#include "hvp/registry.h"
#include "hvp/status.h"

#define HVP_CFG_STR 512      /* bytes of a string value, including the terminator */
#define HVP_CFG_LIST_MAX 4   /* values of a float list */
#define HVP_CFG_MAX_KEYS 256 /* keys in the table */

/* A float pair or list, e.g. crop_scale = 0.2, 1.0. */
typedef struct hvp_cfg_floats {
    int n;
    double v[HVP_CFG_LIST_MAX];
} hvp_cfg_floats;

/* Enumerations: the order matches the allowed names in the table. */
typedef enum { HVP_SCHED_COSINE, HVP_SCHED_CONSTANT } hvp_schedule;
typedef enum { HVP_SELECT_BY_LOSS, HVP_SELECT_BY_OVERLAP } hvp_select_by;
typedef enum { HVP_PROGRESS_AUTO, HVP_PROGRESS_TTY, HVP_PROGRESS_PLAIN,
               HVP_PROGRESS_OFF } hvp_progress_mode;

typedef enum { HVP_RECIPE_DEFAULT, HVP_RECIPE_SIMSIAM, HVP_RECIPE_DINO } hvp_eval_recipe;

/* Where a value came from. */
typedef enum { HVP_CFG_FROM_DEFAULT = 0, HVP_CFG_FROM_FILE, HVP_CFG_FROM_CLI } hvp_cfg_from;

typedef struct hvp_config {
    struct {
        char name[HVP_CFG_STR];
        char dir[HVP_CFG_STR]; /* resolved by hvp_config_run_dir(): "" means runs/<name> */
        int seed;
    } run;
    struct {
        char select[HVP_CFG_STR];
        int share; /* data-parallel ranks of one machine may share a device */
        int profile;
        int memory_limit_mb;
    } device;
    struct {
        hvp_data_format format;
        char root[HVP_CFG_STR];
        int channels, workers, prefetch, batch_size, drop_last, image_size, num_classes;
        hvp_cfg_floats crop_scale, color_jitter, blur_sigma, mean, std;
        double hflip_prob, jitter_prob, grayscale_prob, blur_prob, solarize_prob;
        /* odd global slots (DINO's second kind of view) and local crops; -1: as above */
        double odd_blur_prob, odd_solarize_prob, local_blur_prob;
        int local_crops, local_image_size;
        hvp_cfg_floats local_crop_scale;
    } data;
    struct {
        int arch; /* the line of HVP_ARCHS (hvp/registry.h): hvp_backbone_arch_at */
        int cifar_stem;
        double width;
        int zero_init_residual, patch_size;
        char init[HVP_CFG_STR]; /* "" or a backbone file under torchvision / timm names */
        double drop_path;
    } model;
    struct {
        int name; /* the line of HVP_METHODS (hvp/registry.h) */
        int proj_dim, proj_hidden_dim, proj_layers, pred_dim;
        double temperature;
        int out_dim, bottleneck_dim, norm_last_layer;
        double teacher_temp, warmup_teacher_temp;
        int warmup_teacher_temp_epochs;
        double student_temp, teacher_momentum, center_momentum;
        int patch_out_dim, shared_head, shared_head_teacher;
        double teacher_patch_temp, warmup_teacher_patch_temp;
        hvp_cfg_floats mask_ratio;
        double mask_prob;
        int freeze_last_layer;
        int pred_hidden_dim;
        double final_tau;
    } method;
    struct {
        int enabled, views, select_every, select_resolution;
        int local_candidates, limit_comparisons; /* local-crop selection; 0: none / no cap */
        double random_fraction, score_fraction;
        hvp_select_by select_by;
    } hvp;
    struct {
        hvp_optim_kind name;
        double lr;
        int scale_lr;
        hvp_schedule schedule;
        double momentum, weight_decay;
        int fix_pred_lr, warmup_epochs;
        double min_lr, clip_grad;
        hvp_cfg_floats betas;
        double eps, lars_eta;
        int lars_exclude_bias_bn, lars_clip_lr;
        double weight_decay_end;
    } optim;
    struct {
        int epochs, save_every, save_every_steps, keep_last, max_steps;
        char resume[HVP_CFG_STR]; /* auto | none | PATH */
        double flops_budget;
        char match[HVP_CFG_STR]; /* "" or "CONFIG [section.key=value ...]" */
    } train;
    struct {
        int every, knn_k;
        double knn_temperature;
        char test_root[HVP_CFG_STR];
        int batch_size, knn_train_limit, knn_test_limit, at_start;
        int linear_epochs, linear_batch_size;
        double linear_lr, linear_weight_decay;
        int augment, recipe, last_blocks; /* recipe: hvp_eval_recipe */
        char train_root[HVP_CFG_STR];
        int online_probe;
        double online_probe_lr;
        int finetune_epochs, finetune_batch_size, finetune_optim, finetune_warmup_epochs;
        double finetune_lr, finetune_weight_decay, finetune_label_smoothing;
    } eval;
    struct {
        int every, tensorboard, csv, jsonl, chosen_pairs;
        hvp_progress_mode progress;
    } log;

    /* Bookkeeping, per table index: where each value came from (line 0 unless a file). */
    unsigned char from[HVP_CFG_MAX_KEYS];
    int line[HVP_CFG_MAX_KEYS];
    char file[HVP_CFG_STR]; /* the config file loaded, "" if none */
} hvp_config;

/* ---- the table --------------------------------------------------------------------- */
typedef enum {
    HVP_CFG_INT,
    HVP_CFG_FLOAT,
    HVP_CFG_BOOL,
    HVP_CFG_STRING,
    HVP_CFG_ENUM,
    HVP_CFG_FLOATS /* a list of min_count..max_count floats, each in [min, max] */
} hvp_cfg_type;

typedef struct hvp_config_key {
    const char *section, *key;
    hvp_cfg_type type;
    size_t offset;               /* of the field in hvp_config */
    const char *def;             /* default, written as in an INI file */
    double min, max;             /* INT, FLOAT, FLOATS */
    int min_count, max_count;    /* FLOATS */
    const char *const *choices;  /* ENUM: NULL-terminated, index = enum value */
    const char *help;
} hvp_config_key;

extern const hvp_config_key hvp_config_keys[];
extern const int hvp_config_nkeys;
extern const char *const hvp_config_sections[]; /* NULL-terminated, in file order */

/* The table entry of "section.key" (or NULL). */
const hvp_config_key *hvp_config_find(const char *name);

/* ---- loading ----------------------------------------------------------------------- */
/* Every key at its default. */
void hvp_config_defaults(hvp_config *c);
/* Defaults, then the INI file at path. */
hvp_status hvp_config_load(const char *path, hvp_config *c);
/* Applies one key from INI file text to c; `where` names the place in messages
 * (e.g. "command line"), line 0 means none. */
hvp_status hvp_config_set(hvp_config *c, const char *section, const char *key,
                          const char *value, const char *where, int line);
/* One `section.key=value` override from the command line. */
hvp_status hvp_config_override(hvp_config *c, const char *assignment);
/* What `hvp CONFIG section.key=value ...` does: defaults, then the file (path may be
 * NULL), then each override in order, then hvp_config_check(). */
hvp_status hvp_config_from_cli(hvp_config *c, const char *path, int noverrides,
                               char *const *overrides);
/* Checks that hold between keys (e.g. hvp.select_resolution <= data.image_size). */
hvp_status hvp_config_check(const hvp_config *c);
/* Fails unless "section.key" was given a value (a string that is not empty, or any other
 * value not left at its default), with `hint` (caller's text, may be NULL) appended. */
hvp_status hvp_config_require(const hvp_config *c, const char *name, const char *hint);

/* ---- output ------------------------------------------------------------------------ */
/* The value of one key as written in an INI file, into buf. */
const char *hvp_config_value(const hvp_config *c, const hvp_config_key *k, char *buf,
                             size_t size);
/* The resolved config as an INI file (loading it gives the same config). With
 * `annotate`, each value not at its default is followed by a comment saying where it
 * came from. */
void hvp_config_write(const hvp_config *c, FILE *f, int annotate);
/* The same as a malloc'ed string (for checkpoint metadata). */
char *hvp_config_to_string(const hvp_config *c);
/* Writes the INI atomically (temporary file, fsync, rename). */
hvp_status hvp_config_save(const hvp_config *c, const char *path);
/* The first key whose value differs (NULL if none): compares values, not origins. */
const hvp_config_key *hvp_config_diff(const hvp_config *a, const hvp_config *b);
/* `hvp --help-config`: every key grouped by section with type, default, range, help. */
void hvp_config_print_help(FILE *f);

/* run.dir, or runs/<run.name> when it is empty. */
const char *hvp_config_run_dir(const hvp_config *c, char *buf, size_t size);

/* Levenshtein distance, case-insensitive (for "did you mean"). */
int hvp_edit_distance(const char *a, const char *b);

#endif
