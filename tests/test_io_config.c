/* Config: the key table, loading, errors with file/line/key and suggestions, overrides,
 * required values, cross-key checks, and the saved INI round trip. Host only. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "hvp/config.h"

/* A temporary directory removed by the caller with test_rmdir(). */
static const char *write_file(const char *dir, const char *name, const char *text)
{
    char *path = test_alloc(512);
    snprintf(path, 512, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) {
        TEST_FAIL("cannot write %s", path);
        return path;
    }
    fputs(text, f);
    fclose(f);
    return path;
}

/* Loads text as a config file; returns the status, the message in *msg. */
static hvp_status load_text(const char *text, hvp_config *c, const char **path_out)
{
    char *dir = test_tmpdir();
    const char *path = write_file(dir, "c.ini", text);
    hvp_status st = hvp_config_load(path, c);
    if (path_out)
        *path_out = path;
    test_rmdir(dir);
    return st;
}

#define EXPECT_MSG(needle)                                                               \
    EXPECT(strstr(hvp_last_error(), needle), "message lacks '%s': %s", needle, hvp_last_error())

HVP_TEST(io_config_table_is_consistent)
{
    hvp_config c;
    hvp_config_defaults(&c); /* aborts on a default that does not parse */
    for (int i = 0; i < hvp_config_nkeys; i++) {
        const hvp_config_key *k = &hvp_config_keys[i];
        int in_sections = 0;
        for (int s = 0; hvp_config_sections[s]; s++)
            in_sections |= strcmp(hvp_config_sections[s], k->section) == 0;
        EXPECT(in_sections, "%s.%s: section not listed", k->section, k->key);
        EXPECT(k->help && strlen(k->help) > 5, "%s.%s: no help", k->section, k->key);
        for (int j = 0; j < i; j++)
            EXPECT(strcmp(k->section, hvp_config_keys[j].section) != 0 ||
                       strcmp(k->key, hvp_config_keys[j].key) != 0,
                   "%s.%s appears twice", k->section, k->key);
        char name[128];
        snprintf(name, sizeof name, "%s.%s", k->section, k->key);
        EXPECT(hvp_config_find(name) == k, "find(%s)", name);
        EXPECT(c.from[i] == HVP_CFG_FROM_DEFAULT, "%s not from default", name);
    }
    /* the defaults the issue names */
    EXPECT(c.hvp.views == 4 && !c.hvp.enabled, "hvp defaults");
    EXPECT(c.eval.knn_k == 20 && c.eval.knn_temperature == 0.07, "kNN defaults");
    EXPECT(c.optim.name == HVP_OPTIM_SGD && c.optim.lr == 0.05 && c.optim.momentum == 0.9 &&
               c.optim.weight_decay == 1e-4,
           "SimSiam optimizer defaults");
    EXPECT(strcmp(hvp_method_name_of(c.method.name), "simsiam") == 0 && c.method.proj_dim == 2048 &&
               c.method.pred_dim == 512,
           "SimSiam head defaults");
    EXPECT(c.data.crop_scale.n == 2 && c.data.crop_scale.v[0] == 0.2 && c.data.crop_scale.v[1] == 1.0,
           "crop_scale default");
    EXPECT(strcmp(c.train.resume, "auto") == 0, "resume default");
    REQUIRE_OK(hvp_config_check(&c));

    /* --help-config lists every key under its section */
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    hvp_config_print_help(f);
    fclose(f);
    for (int i = 0; i < hvp_config_nkeys; i++)
        EXPECT(strstr(text, hvp_config_keys[i].help), "help lacks %s", hvp_config_keys[i].key);
    EXPECT(strstr(text, "[optim]") && strstr(text, "one of sgd|lars|adamw"), "help format:\n%s", text);
    free(text);
}

HVP_TEST(io_config_loads_values_and_lines)
{
    hvp_config c;
    const char *text = "; a comment\n"
                       "[run]\n"
                       "name = \"my run; with spaces\"\n"
                       "seed = 7\n"
                       "\n"
                       "[Data]\n"
                       "Batch_Size = 512   ; inline comment\n"
                       "crop_scale = 0.08, 1\n"
                       "mean = 0.5\n"
                       "std = 0.25\n"
                       "channels = 1\n"
                       "[model]\n"
                       "arch = ResNet18\n"
                       "cifar_stem = yes\n"
                       "[optim]\n"
                       "lr = 0.30000000000000004\n";
    const char *path;
    REQUIRE_OK(load_text(text, &c, &path));
    EXPECT(strcmp(c.run.name, "my run; with spaces") == 0, "name '%s'", c.run.name);
    EXPECT(c.run.seed == 7, "seed %d", c.run.seed);
    EXPECT(c.data.batch_size == 512, "batch %d", c.data.batch_size);
    EXPECT(c.data.crop_scale.n == 2 && c.data.crop_scale.v[0] == 0.08 && c.data.crop_scale.v[1] == 1.0,
           "crop_scale");
    EXPECT(c.data.mean.n == 1 && c.data.mean.v[0] == 0.5, "mean");
    EXPECT(strcmp(hvp_backbone_arch_at(c.model.arch)->name, "resnet18") == 0 &&
               c.model.cifar_stem == 1,
           "model");
    EXPECT(c.optim.lr == 0.30000000000000004, "lr %.17g", c.optim.lr);
    const hvp_config_key *k = hvp_config_find("data.batch_size");
    int i = (int)(k - hvp_config_keys);
    EXPECT(c.from[i] == HVP_CFG_FROM_FILE && c.line[i] == 7, "batch_size from %d line %d", c.from[i],
           c.line[i]);
    EXPECT(strcmp(c.file, path) == 0, "file '%s'", c.file);
    REQUIRE_OK(hvp_config_check(&c));
}

HVP_TEST(io_config_unknown_key_suggests_nearest)
{
    hvp_config c;
    const char *path;
    EXPECT(load_text("[optim]\nlr = 0.1\nmomentun = 0.9\n", &c, &path) == HVP_ERR_FORMAT, "typo accepted");
    EXPECT_MSG("c.ini:3");
    EXPECT_MSG("'momentun'");
    EXPECT_MSG("Did you mean 'optim.momentum'?");

    /* a key in the wrong section points to the right one */
    EXPECT(load_text("[data]\nbatch_size = 8\nepochs = 3\n", &c, NULL) == HVP_ERR_FORMAT, "accepted");
    EXPECT_MSG("c.ini:3");
    EXPECT_MSG("'train.epochs'");

    /* nothing close: no suggestion */
    EXPECT(load_text("[train]\nfrobnicate_everything = 1\n", &c, NULL) == HVP_ERR_FORMAT, "accepted");
    EXPECT(!strstr(hvp_last_error(), "Did you mean"), "odd suggestion: %s", hvp_last_error());

    EXPECT(load_text("[optimizer]\nlr = 0.1\n", &c, NULL) == HVP_ERR_FORMAT, "section typo accepted");
    EXPECT_MSG("c.ini:1");
    EXPECT_MSG("[optimizer]");
    EXPECT_MSG("Did you mean [optim]?");
}

HVP_TEST(io_config_bad_values_name_file_line_key_and_form)
{
    hvp_config c;
    static const struct {
        const char *text, *needles[3];
    } cases[] = {
        {"[data]\n\nbatch_size = abc\n", {"c.ini:3", "data.batch_size = 'abc'", "an integer in [1, 1048576]"}},
        {"[data]\nbatch_size = 0\n", {"c.ini:2", "data.batch_size = '0'", "[1, 1048576]"}},
        {"[data]\nbatch_size = 12x\n", {"c.ini:2", "'12x'", "integer"}},
        {"[optim]\nlr = -1\n", {"c.ini:2", "optim.lr", "a number in [0, 1000]"}},
        {"[optim]\nlr = nan\n", {"c.ini:2", "optim.lr", "a number"}},
        {"[hvp]\nenabled = maybe\n", {"c.ini:2", "hvp.enabled", "true or false"}},
        {"[model]\narch = resnet15\n", {"model.arch = 'resnet15'", "one of resnet18|resnet34", "Did you mean 'resnet18'?"}},
        {"[data]\ncrop_scale = 0.2\n", {"c.ini:2", "data.crop_scale", "2 comma-separated numbers in [0, 1]"}},
        {"[data]\ncrop_scale = 0.2, 1.5\n", {"data.crop_scale", "[0, 1]", "c.ini:2"}},
        {"[data]\nmean = 1, 2, 3, 4, 5\n", {"data.mean", "1 to 3 comma-separated", "c.ini:2"}},
        {"[run]\nseed = 3\nseed = 4\n", {"c.ini:3", "duplicate key run.seed", "line 2"}},
        {"[run]\nthis line has no equals sign\n", {"c.ini:2", "expected 'key = value'", "no equals"}},
        {"seed = 3\n[run]\n", {"c.ini:1", "before any [section]", "seed"}},
        {"[run\nseed = 3\n", {"c.ini:1", "without ']'", "[run"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hvp_status st = load_text(cases[i].text, &c, NULL);
        EXPECT(st == HVP_ERR_FORMAT, "case %zu accepted (status %d)", i, (int)st);
        for (int n = 0; n < 3; n++)
            EXPECT(strstr(hvp_last_error(), cases[i].needles[n]), "case %zu: message lacks '%s': %s",
                   i, cases[i].needles[n], hvp_last_error());
    }
    /* a missing file */
    EXPECT(hvp_config_load("/nonexistent/x.ini", &c) == HVP_ERR_IO, "missing file");
    EXPECT_MSG("/nonexistent/x.ini");
}

HVP_TEST(io_config_overrides)
{
    hvp_config c;
    hvp_config_defaults(&c);
    REQUIRE_OK(hvp_config_override(&c, "optim.lr=0.1"));
    REQUIRE_OK(hvp_config_override(&c, "HVP.Enabled = on"));
    REQUIRE_OK(hvp_config_override(&c, "data.root=\"/data/my images\""));
    REQUIRE_OK(hvp_config_override(&c, "data.blur_sigma=0.5,1.5"));
    EXPECT(c.optim.lr == 0.1 && c.hvp.enabled == 1, "values");
    EXPECT(strcmp(c.data.root, "/data/my images") == 0, "root '%s'", c.data.root);
    EXPECT(c.data.blur_sigma.v[0] == 0.5 && c.data.blur_sigma.v[1] == 1.5, "blur_sigma");
    int i = (int)(hvp_config_find("optim.lr") - hvp_config_keys);
    EXPECT(c.from[i] == HVP_CFG_FROM_CLI, "origin %d", c.from[i]);

    EXPECT(hvp_config_override(&c, "optim.lr=fast") == HVP_ERR_FORMAT, "bad value accepted");
    EXPECT_MSG("command line: optim.lr = 'fast'");
    EXPECT_MSG("a number in");
    EXPECT(c.optim.lr == 0.1, "a failed override changed the value");

    EXPECT(hvp_config_override(&c, "optim.lr") == HVP_ERR_ARG, "no '=' accepted");
    EXPECT_MSG("expected section.key=value");
    EXPECT(hvp_config_override(&c, "lr=0.1") == HVP_ERR_ARG, "no section accepted");
    EXPECT(hvp_config_override(&c, "optim.weight_decai=0") == HVP_ERR_FORMAT, "typo accepted");
    EXPECT_MSG("command line");
    EXPECT_MSG("Did you mean 'optim.weight_decay'?");
    EXPECT(hvp_config_override(&c, "optm.lr=0.1") == HVP_ERR_FORMAT, "section typo accepted");
    EXPECT_MSG("Did you mean [optim]?");

    /* an override applies on top of a file */
    REQUIRE_OK(load_text("[optim]\nlr = 0.2\n", &c, NULL));
    REQUIRE_OK(hvp_config_override(&c, "optim.lr=0.3"));
    EXPECT(c.optim.lr == 0.3, "override after file: %g", c.optim.lr);

    /* the whole command line: file, overrides in order, cross-key checks */
    char *dir = test_tmpdir();
    const char *path = write_file(dir, "cli.ini", "[data]\nimage_size = 32\n");
    char *ok[] = {"optim.lr=0.4", "optim.lr=0.5", "hvp.views=6"};
    REQUIRE_OK(hvp_config_from_cli(&c, path, 3, ok));
    EXPECT(c.optim.lr == 0.5 && c.hvp.views == 6 && c.data.image_size == 32, "from_cli values");
    char *bad[] = {"hvp.views=6", "hvp.select_resolution=64"};
    EXPECT(hvp_config_from_cli(&c, path, 2, bad) == HVP_ERR_ARG, "from_cli skipped the checks");
    EXPECT_MSG("data.image_size = 32");
    char *typo[] = {"hvp.view=6"};
    EXPECT(hvp_config_from_cli(&c, NULL, 1, typo) == HVP_ERR_FORMAT, "from_cli typo");
    EXPECT_MSG("Did you mean 'hvp.views'?");
    test_rmdir(dir);
}

HVP_TEST(io_config_require_and_checks)
{
    hvp_config c;
    REQUIRE_OK(load_text("[data]\nformat = imagefolder\n", &c, NULL));
    hvp_status st = hvp_config_require(&c, "data.root", "Point it at an ImageFolder "
                                                        "(root/CLASS/*.jpg), or try configs/quickstart.ini.");
    EXPECT(st == HVP_ERR_ARG, "missing root accepted");
    EXPECT_MSG("data.root is not set");
    EXPECT_MSG("c.ini");
    EXPECT_MSG("data.root=");
    EXPECT_MSG("configs/quickstart.ini");
    REQUIRE_OK(hvp_config_override(&c, "data.root=/somewhere"));
    REQUIRE_OK(hvp_config_require(&c, "data.root", "hint"));
    /* non-string keys: required means "given" */
    EXPECT(hvp_config_require(&c, "run.seed", NULL) == HVP_ERR_ARG, "default seed counted as given");
    REQUIRE_OK(hvp_config_override(&c, "run.seed=0"));
    REQUIRE_OK(hvp_config_require(&c, "run.seed", NULL));

    REQUIRE_OK(hvp_config_override(&c, "data.image_size=32"));
    REQUIRE_OK(hvp_config_override(&c, "hvp.select_resolution=64"));
    EXPECT(hvp_config_check(&c) == HVP_ERR_ARG, "select_resolution > image_size accepted");
    EXPECT_MSG("hvp.select_resolution = 64 (command line)");
    REQUIRE_OK(hvp_config_override(&c, "hvp.select_resolution=16"));
    REQUIRE_OK(hvp_config_check(&c));
    /* ViT: pos_embed is interpolated, so any side that the patches tile: the images, the
     * scored views and the local crops */
    REQUIRE_OK(hvp_config_override(&c, "model.arch=vit_tiny"));
    REQUIRE_OK(hvp_config_override(&c, "model.patch_size=8"));
    REQUIRE_OK(hvp_config_check(&c));
    REQUIRE_OK(hvp_config_override(&c, "hvp.select_resolution=12"));
    EXPECT(hvp_config_check(&c) == HVP_ERR_ARG, "ViT scored at 12 px with patch 8 accepted");
    EXPECT_MSG("hvp.select_resolution = 12 (command line)");
    EXPECT_MSG("model.patch_size = 8");
    REQUIRE_OK(hvp_config_override(&c, "hvp.select_resolution=0"));
    REQUIRE_OK(hvp_config_override(&c, "data.local_crops=2"));
    REQUIRE_OK(hvp_config_override(&c, "data.local_image_size=12"));
    EXPECT(hvp_config_check(&c) == HVP_ERR_ARG, "ViT local crops of 12 px with patch 8 accepted");
    EXPECT_MSG("data.local_image_size = 12 (command line)");
    REQUIRE_OK(hvp_config_override(&c, "data.local_image_size=16"));
    REQUIRE_OK(hvp_config_check(&c));
    REQUIRE_OK(hvp_config_override(&c, "data.local_crops=0"));
    REQUIRE_OK(hvp_config_override(&c, "model.patch_size=5"));
    EXPECT(hvp_config_check(&c) == HVP_ERR_ARG, "image_size 32 with patch 5 accepted");
    EXPECT_MSG("model.patch_size = 5");
    EXPECT_MSG("data.image_size = 32");
    REQUIRE_OK(hvp_config_override(&c, "model.patch_size=8"));
    REQUIRE_OK(hvp_config_override(&c, "model.arch=resnet18"));
    REQUIRE_OK(hvp_config_override(&c, "hvp.select_resolution=16"));
    REQUIRE_OK(hvp_config_override(&c, "data.channels=1"));
    EXPECT(hvp_config_check(&c) == HVP_ERR_ARG, "3 means for 1 channel accepted");
    EXPECT_MSG("data.mean");
    REQUIRE_OK(hvp_config_override(&c, "data.channels=2"));
    EXPECT(hvp_config_check(&c) == HVP_ERR_ARG, "2 channels accepted");
}

HVP_TEST(io_config_saved_ini_round_trips)
{
    hvp_config a, b;
    REQUIRE_OK(load_text("[run]\nname = \"round; trip # x\"\n[optim]\nlr = 0.1\nname = lars\n"
                         "[data]\ncolor_jitter = 0.1, 0.2, 0.3, 0.05\n",
                         &a, NULL));
    REQUIRE_OK(hvp_config_override(&a, "optim.weight_decay=1.2345678901234567e-05"));
    REQUIRE_OK(hvp_config_override(&a, "model.width=0.3333333333333333"));
    REQUIRE_OK(hvp_config_override(&a, "data.root=/a b/c"));
    char *dir = test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/config.ini", dir);
    REQUIRE_OK(hvp_config_save(&a, path));
    REQUIRE_OK(hvp_config_load(path, &b));
    const hvp_config_key *d = hvp_config_diff(&a, &b);
    EXPECT(!d, "round trip changed %s.%s", d ? d->section : "", d ? d->key : "");
    EXPECT(b.optim.weight_decay == 1.2345678901234567e-05 && b.model.width == 0.3333333333333333,
           "doubles not exact");
    EXPECT(strcmp(b.run.name, "round; trip # x") == 0, "name '%s'", b.run.name);
    /* the printed text is stable */
    char *ta = hvp_config_to_string(&a), *tb = hvp_config_to_string(&b);
    EXPECT(ta && tb && strcmp(ta, tb) == 0, "texts differ");
    free(ta);
    free(tb);
    /* and a changed value is found by diff */
    b.optim.lr = 0.2;
    d = hvp_config_diff(&a, &b);
    EXPECT(d && strcmp(d->key, "lr") == 0, "diff missed optim.lr");
    char rd[600];
    EXPECT(strcmp(hvp_config_run_dir(&a, rd, sizeof rd), "runs/round; trip # x") == 0, "run dir %s", rd);
    test_rmdir(dir);
}

HVP_TEST(io_edit_distance)
{
    EXPECT(hvp_edit_distance("kitten", "sitting") == 3, "kitten");
    EXPECT(hvp_edit_distance("", "abc") == 3, "empty");
    EXPECT(hvp_edit_distance("LR", "lr") == 0, "case");
}

#ifndef HVP_SRCDIR
#define HVP_SRCDIR "."
#endif

/* Every shipped config loads and passes the checks: keys, values and their combination. */
HVP_TEST(io_config_shipped_configs_load)
{
    DIR *d = opendir(HVP_SRCDIR "/configs");
    if (!d) {
        TEST_FAIL("cannot list %s/configs", HVP_SRCDIR);
        return;
    }
    int loaded = 0;
    struct dirent *e;
    char path[1200];
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".ini") != 0)
            continue;
        snprintf(path, sizeof path, "%s/configs/%s", HVP_SRCDIR, e->d_name);
        hvp_config c;
        hvp_status st = hvp_config_load(path, &c);
        if (st == HVP_OK)
            st = hvp_config_check(&c);
        EXPECT(st == HVP_OK, "%s: %s", e->d_name, hvp_last_error());
        loaded++;
    }
    closedir(d);
    EXPECT(loaded >= 5, "only %d configs found", loaded);
}

/* A quote that is opened and never closed, in a file or on the command line, is an error
 * (iniparser keeps the rest of the line, quote included); a file that sets nothing is too. */
HVP_TEST(io_config_unterminated_quote_and_empty_file)
{
    hvp_config c;
    const char *path;
    hvp_status st = load_text("[data]\nroot = \"/data/x y\n", &c, &path);
    EXPECT(st == HVP_ERR_FORMAT, "unterminated double quote: %s", hvp_status_name(st));
    EXPECT_MSG(":2:");
    EXPECT_MSG("data.root");
    EXPECT_MSG("quote");
    st = load_text("[run]\nname = 'abc ; a comment\n", &c, NULL);
    EXPECT(st == HVP_ERR_FORMAT, "unterminated single quote: %s", hvp_status_name(st));
    EXPECT_MSG("run.name");
    REQUIRE_OK(load_text("[run]\nname = \"a b\" ; quoted\n", &c, NULL));
    EXPECT(strcmp(c.run.name, "a b") == 0, "quoted value read as '%s'", c.run.name);

    hvp_config_defaults(&c);
    st = hvp_config_override(&c, "run.name=\"abc");
    EXPECT(st == HVP_ERR_ARG, "unterminated quote on the command line: %s", hvp_status_name(st));
    EXPECT_MSG("quote");
    REQUIRE_OK(hvp_config_override(&c, "run.name=\"abc\""));

    st = load_text("; nothing but a comment\n[data]\n", &c, &path);
    EXPECT(st == HVP_ERR_FORMAT, "a config that sets no key: %s", hvp_status_name(st));
    EXPECT_MSG(path);
    EXPECT_MSG("sets no key");
}
