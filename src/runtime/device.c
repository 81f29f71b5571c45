/* Enumerating OpenCL platforms and devices, and choosing one. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "hvp/runtime.h"

static void get_string(cl_device_id d, cl_device_info what, char *buf, size_t size)
{
    buf[0] = 0;
    if (clGetDeviceInfo(d, what, size, buf, NULL) != CL_SUCCESS)
        buf[0] = 0;
    buf[size - 1] = 0;
}

static int has_extension(cl_device_id d, const char *ext)
{
    size_t n = 0;
    if (clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, 0, NULL, &n) != CL_SUCCESS || n == 0)
        return 0;
    char *s = malloc(n + 1);
    if (!s)
        return 0;
    int found = 0;
    if (clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, n, s, NULL) == CL_SUCCESS) {
        s[n] = 0;
        size_t len = strlen(ext);
        for (char *p = strstr(s, ext); p; p = strstr(p + 1, ext))
            if ((p == s || p[-1] == ' ') && (p[len] == ' ' || p[len] == 0)) {
                found = 1;
                break;
            }
    }
    free(s);
    return found;
}

static void describe(cl_platform_id p, cl_device_id d, hvp_device_info *info)
{
    memset(info, 0, sizeof *info);
    info->platform = p;
    info->device = d;
    clGetPlatformInfo(p, CL_PLATFORM_NAME, sizeof info->platform_name, info->platform_name, NULL);
    clGetPlatformInfo(p, CL_PLATFORM_VERSION, sizeof info->platform_version,
                      info->platform_version, NULL);
    info->platform_name[sizeof info->platform_name - 1] = 0;
    info->platform_version[sizeof info->platform_version - 1] = 0;
    get_string(d, CL_DEVICE_NAME, info->device_name, sizeof info->device_name);
    get_string(d, CL_DEVICE_VERSION, info->device_version, sizeof info->device_version);
    get_string(d, CL_DRIVER_VERSION, info->driver_version, sizeof info->driver_version);
    get_string(d, CL_DEVICE_OPENCL_C_VERSION, info->opencl_c_version,
               sizeof info->opencl_c_version);
    clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof info->type, &info->type, NULL);
    clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof info->global_mem_bytes,
                    &info->global_mem_bytes, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof info->max_alloc_bytes,
                    &info->max_alloc_bytes, NULL);
    clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_SIZE, sizeof info->local_mem_bytes,
                    &info->local_mem_bytes, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof info->compute_units,
                    &info->compute_units, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MEM_BASE_ADDR_ALIGN, sizeof info->base_align_bits,
                    &info->base_align_bits, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof info->max_work_group_size,
                    &info->max_work_group_size, NULL);
    if (info->max_work_group_size == 0)
        info->max_work_group_size = 1;
    info->has_fp16 = has_extension(d, "cl_khr_fp16");
    info->has_fp64 = has_extension(d, "cl_khr_fp64");
    info->has_subgroups = has_extension(d, "cl_khr_subgroups") ||
                          has_extension(d, "cl_intel_subgroups");
}

hvp_status hvp_list_devices(hvp_device_info **out, int *count)
{
    *out = NULL;
    *count = 0;
    cl_uint np = 0;
    cl_int err = clGetPlatformIDs(0, NULL, &np);
    if (err != CL_SUCCESS && err != -1001 /* CL_PLATFORM_NOT_FOUND_KHR */)
        return HVP_FAIL(HVP_ERR_CL, "clGetPlatformIDs failed: %s", hvp_cl_error_name(err));
    if (np == 0)
        return HVP_OK;
    cl_platform_id *platforms = calloc(np, sizeof *platforms);
    if (!platforms)
        return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory listing platforms");
    clGetPlatformIDs(np, platforms, NULL);

    hvp_device_info *list = NULL;
    int n = 0;
    for (cl_uint i = 0; i < np; i++) {
        cl_uint nd = 0;
        if (clGetDeviceIDs(platforms[i], CL_DEVICE_TYPE_ALL, 0, NULL, &nd) != CL_SUCCESS || !nd)
            continue; /* a platform without devices (e.g. Clover with no GPU) */
        cl_device_id *devs = calloc(nd, sizeof *devs);
        hvp_device_info *grown = realloc(list, (size_t)(n + (int)nd) * sizeof *list);
        if (!devs || !grown) {
            free(devs);
            free(grown ? grown : list);
            free(platforms);
            return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory listing devices");
        }
        list = grown;
        clGetDeviceIDs(platforms[i], CL_DEVICE_TYPE_ALL, nd, devs, NULL);
        for (cl_uint j = 0; j < nd; j++) {
            describe(platforms[i], devs[j], &list[n]);
            list[n].index = n;
            n++;
        }
        free(devs);
    }
    free(platforms);
    *out = list;
    *count = n;
    return HVP_OK;
}

static int contains_nocase(const char *hay, const char *needle)
{
    size_t hn = strlen(hay), nn = strlen(needle);
    for (size_t i = 0; i + nn <= hn; i++) {
        size_t j = 0;
        while (j < nn && tolower((unsigned char)hay[i + j]) == tolower((unsigned char)needle[j]))
            j++;
        if (j == nn)
            return 1;
    }
    return 0;
}

/* Whether device i is one the selector names: an index names one device, a substring
 * every device whose "platform / device" contains it, and no selector the GPUs (or, when
 * there is none, the first device). */
static int matches(const hvp_device_info *list, int n, int i, const char *selector)
{
    if (!selector || !*selector) {
        int gpus = 0;
        for (int k = 0; k < n; k++)
            gpus += (list[k].type & CL_DEVICE_TYPE_GPU) != 0;
        return gpus ? (list[i].type & CL_DEVICE_TYPE_GPU) != 0 : i == 0;
    }
    char *end;
    long idx = strtol(selector, &end, 10);
    if (*end == 0)
        return idx == i;
    char both[300];
    snprintf(both, sizeof both, "%s / %s", list[i].platform_name, list[i].device_name);
    return contains_nocase(both, selector);
}

hvp_status hvp_find_device_for(const char *selector, int slot, int slots, int share,
                               hvp_device_info *out)
{
    if (!selector || !*selector)
        selector = getenv("HVP_DEVICE");
    hvp_device_info *list;
    int n;
    HVP_TRY(hvp_list_devices(&list, &n));
    if (n == 0)
        return HVP_FAIL(HVP_ERR_NOTFOUND,
                        "no OpenCL device found: install an OpenCL implementation "
                        "(Debian: pocl-opencl-icd for the CPU)");
    int found = 0, pick = -1;
    char names[1024] = "";
    size_t used = 0;
    for (int i = 0; i < n; i++) {
        if (!matches(list, n, i, selector))
            continue;
        if (found == slot)
            pick = i;
        if (used < sizeof names)
            used += (size_t)snprintf(names + used, sizeof names - used, "%s%d: %s / %s",
                                     found ? "; " : "", i, list[i].platform_name,
                                     list[i].device_name);
        found++;
    }
    if (share && found > 0 && slot >= found) /* shared: slot k takes device k mod found */
        for (int i = 0, m = 0; i < n; i++)
            if (matches(list, n, i, selector) && m++ == slot % found)
                pick = i;
    hvp_status st = HVP_OK;
    if (found == 0)
        st = HVP_FAIL(HVP_ERR_NOTFOUND,
                      "no OpenCL device matches '%s' (an index, or part of a platform or "
                      "device name; `hvp devices` lists them)", selector);
    else if (slots > found && !share)
        st = HVP_FAIL(HVP_ERR_NOTFOUND,
                      "%d ranks on this machine need %d devices, but %d match '%s' (%s): "
                      "give device.select (or HVP_DEVICE) a name that more devices share, "
                      "start fewer ranks per machine, or set device.share = true to let "
                      "ranks share devices", slots, slots, found,
                      selector && *selector ? selector : "the GPUs, else the first device",
                      names);
    if (st == HVP_OK)
        *out = list[pick];
    free(list);
    return st;
}

hvp_status hvp_find_device(const char *selector, hvp_device_info *out)
{
    return hvp_find_device_for(selector, 0, 1, 0, out);
}
