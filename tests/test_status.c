/* Error messages: a message may wrap the one before it. Host only. */
#include <string.h>

#include "harness.h"

HVP_TEST(status_message_wraps_the_previous_one)
{
    HVP_FAIL(HVP_ERR_FORMAT, "inner %d", 123);
    hvp_status s = HVP_FAIL(HVP_ERR_ARG, "outer: %s", hvp_last_error());
    const char *m = hvp_last_error();
    EXPECT(s == HVP_ERR_ARG && strstr(m, "outer: ") && strstr(m, "inner 123") &&
               strstr(m, "outer: ") < strstr(m, "inner 123"),
           "wrapped message: %s", m);
}
