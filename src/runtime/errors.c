/* Symbolic names for OpenCL and CLBlast error codes. */
#include "hvp/runtime.h" /* first: sets CL_TARGET_OPENCL_VERSION for CLBlast's CL/cl.h */

#include <clblast_c.h>

const char *hvp_cl_error_name(cl_int err)
{
    switch (err) {
#define E(x) case x: return #x;
    E(CL_SUCCESS) E(CL_DEVICE_NOT_FOUND) E(CL_DEVICE_NOT_AVAILABLE) E(CL_COMPILER_NOT_AVAILABLE)
    E(CL_MEM_OBJECT_ALLOCATION_FAILURE) E(CL_OUT_OF_RESOURCES) E(CL_OUT_OF_HOST_MEMORY)
    E(CL_PROFILING_INFO_NOT_AVAILABLE) E(CL_MEM_COPY_OVERLAP) E(CL_IMAGE_FORMAT_MISMATCH)
    E(CL_IMAGE_FORMAT_NOT_SUPPORTED) E(CL_BUILD_PROGRAM_FAILURE) E(CL_MAP_FAILURE)
    E(CL_MISALIGNED_SUB_BUFFER_OFFSET) E(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
    E(CL_COMPILE_PROGRAM_FAILURE) E(CL_LINKER_NOT_AVAILABLE) E(CL_LINK_PROGRAM_FAILURE)
    E(CL_DEVICE_PARTITION_FAILED) E(CL_KERNEL_ARG_INFO_NOT_AVAILABLE)
    E(CL_INVALID_VALUE) E(CL_INVALID_DEVICE_TYPE) E(CL_INVALID_PLATFORM) E(CL_INVALID_DEVICE)
    E(CL_INVALID_CONTEXT) E(CL_INVALID_QUEUE_PROPERTIES) E(CL_INVALID_COMMAND_QUEUE)
    E(CL_INVALID_HOST_PTR) E(CL_INVALID_MEM_OBJECT) E(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR)
    E(CL_INVALID_IMAGE_SIZE) E(CL_INVALID_SAMPLER) E(CL_INVALID_BINARY)
    E(CL_INVALID_BUILD_OPTIONS) E(CL_INVALID_PROGRAM) E(CL_INVALID_PROGRAM_EXECUTABLE)
    E(CL_INVALID_KERNEL_NAME) E(CL_INVALID_KERNEL_DEFINITION) E(CL_INVALID_KERNEL)
    E(CL_INVALID_ARG_INDEX) E(CL_INVALID_ARG_VALUE) E(CL_INVALID_ARG_SIZE)
    E(CL_INVALID_KERNEL_ARGS) E(CL_INVALID_WORK_DIMENSION) E(CL_INVALID_WORK_GROUP_SIZE)
    E(CL_INVALID_WORK_ITEM_SIZE) E(CL_INVALID_GLOBAL_OFFSET) E(CL_INVALID_EVENT_WAIT_LIST)
    E(CL_INVALID_EVENT) E(CL_INVALID_OPERATION) E(CL_INVALID_GL_OBJECT)
    E(CL_INVALID_BUFFER_SIZE) E(CL_INVALID_MIP_LEVEL) E(CL_INVALID_GLOBAL_WORK_SIZE)
    E(CL_INVALID_PROPERTY) E(CL_INVALID_IMAGE_DESCRIPTOR) E(CL_INVALID_COMPILER_OPTIONS)
    E(CL_INVALID_LINKER_OPTIONS) E(CL_INVALID_DEVICE_PARTITION_COUNT)
#undef E
    case -1001: return "CL_PLATFORM_NOT_FOUND_KHR (no OpenCL platform installed; try pocl-opencl-icd)";
    }
    return "unknown OpenCL error";
}

const char *hvp_clblast_error_name(int status)
{
    /* CLBlast shares the OpenCL codes and adds its own below -1000. */
    switch ((CLBlastStatusCode)status) {
#define E(x) case x: return #x;
    E(CLBlastNotImplemented) E(CLBlastInvalidMatrixA) E(CLBlastInvalidMatrixB)
    E(CLBlastInvalidMatrixC) E(CLBlastInvalidVectorX) E(CLBlastInvalidVectorY)
    E(CLBlastInvalidDimension) E(CLBlastInvalidLeadDimA) E(CLBlastInvalidLeadDimB)
    E(CLBlastInvalidLeadDimC) E(CLBlastInvalidIncrementX) E(CLBlastInvalidIncrementY)
    E(CLBlastInsufficientMemoryA) E(CLBlastInsufficientMemoryB) E(CLBlastInsufficientMemoryC)
    E(CLBlastInsufficientMemoryX) E(CLBlastInsufficientMemoryY)
    E(CLBlastInsufficientMemoryTemp) E(CLBlastInvalidBatchCount) E(CLBlastInvalidOverrideKernel)
    E(CLBlastMissingOverrideParameter) E(CLBlastInvalidLocalMemUsage)
    E(CLBlastNoHalfPrecision) E(CLBlastNoDoublePrecision) E(CLBlastInvalidVectorScalar)
    E(CLBlastInsufficientMemoryScalar) E(CLBlastDatabaseError) E(CLBlastUnknownError)
    E(CLBlastUnexpectedError)
#undef E
    default: break;
    }
    return hvp_cl_error_name(status);
}
