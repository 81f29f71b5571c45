/* Device memory arenas: running out is an error that names the allocation and its size. */
#include <string.h>

#include "harness.h"

HVP_TEST(arena_memory_limit_names_the_allocation)
{
    hvp_ctx *ctx = test_ctx();
    EXPECT(ctx->memory_held > 0 && ctx->memory_held <= ctx->memory_limit,
           "the arenas hold %zu bytes under a limit of %zu", ctx->memory_held, ctx->memory_limit);
    REQUIRE_OK(hvp_ctx_set_memory_limit(ctx, ctx->memory_held + ((size_t)1 << 20)));
    cl_mem buf = NULL;
    size_t offset = 0;
    hvp_status s = hvp_arena_alloc(ctx->acts, (size_t)3 << 30, "the test's huge tensor", &buf,
                                   &offset);
    const char *msg = hvp_last_error();
    EXPECT(s == HVP_ERR_NOMEM, "a 3 GiB allocation over the limit gave status %d", (int)s);
    EXPECT(strstr(msg, "out of device memory") && strstr(msg, "the test's huge tensor") &&
               strstr(msg, "3072.0 MiB") && strstr(msg, "smaller batch"),
           "the message should name the allocation, its size and the remedy: %s", msg);
    REQUIRE_OK(hvp_ctx_set_memory_limit(ctx, 0));
    EXPECT(ctx->memory_limit >= ctx->memory_held, "0 should restore the device's memory size");
    /* below what is held already: an error that says so, and the limit unchanged */
    size_t before = ctx->memory_limit;
    s = hvp_ctx_set_memory_limit(ctx, ctx->memory_held / 2);
    EXPECT(s == HVP_ERR_ARG && strstr(hvp_last_error(), "below") &&
               strstr(hvp_last_error(), "holds from the start") && ctx->memory_limit == before,
           "a limit below the memory held: %s", hvp_last_error());
}

/* A rewind then a trim gives back the blocks a large allocation made. */
HVP_TEST(arena_trim_releases_unused_blocks)
{
    hvp_ctx *ctx = test_ctx();
    hvp_arena_mark mark = hvp_arena_get_mark(ctx->params);
    size_t held = ctx->memory_held, big = (size_t)(test_tiny() ? 5 : 80) << 20;
    cl_mem buf = NULL;
    size_t offset = 0;
    REQUIRE_OK(hvp_arena_alloc(ctx->params, big, "a throw-away piece", &buf, &offset));
    EXPECT(ctx->memory_held > held, "a piece larger than a block made no block");
    hvp_arena_rewind(ctx->params, mark);
    hvp_arena_trim(ctx->params);
    EXPECT(ctx->memory_held == held, "after the trim the arenas hold %zu bytes, %zu before",
           ctx->memory_held, held);
    REQUIRE_OK(hvp_arena_alloc(ctx->params, 1024, "a small piece", &buf, &offset));
    hvp_arena_rewind(ctx->params, mark);
}
