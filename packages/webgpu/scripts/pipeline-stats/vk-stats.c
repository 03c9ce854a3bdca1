/*
 * vk-stats: the statistics (registers, ...) and internal representations a Vulkan driver reports for compute
 * pipelines, through VK_KHR_pipeline_executable_properties.
 *
 *   vk-stats [options] FILE.spv...
 *     --ir-dir DIR     write internal representations to DIR/<basename>.ir.txt (default: next to each FILE)
 *     --no-ir          do not ask for internal representations
 *     --no-robust      leave robustBufferAccess off (on by default where supported, as Dawn does)
 *     --device N       use physical device N (default: the first discrete GPU with the extension, else the first
 *                      device with it); the list goes to stderr
 *     --allow-missing  without the extension, still create each pipeline (checks that the driver accepts the
 *                      SPIR-V) and print its line without executables
 *
 * The device is created with every feature it supports (core 1.0 and, through VkPhysicalDeviceVulkan11/12/13Features,
 * 1.1-1.3, up to the Vulkan version that both the loader and the device offer, at most 1.3), robustBufferAccess as
 * above, and these extensions where supported: VK_KHR_pipeline_executable_properties,
 * VK_KHR_shader_maximal_reconvergence, VK_KHR_shader_subgroup_uniform_control_flow and VK_KHR_cooperative_matrix
 * (with their features; cooperativeMatrixRobustBufferAccess follows robustBufferAccess), so that both naga's SPIR-V
 * and Tint's (Dawn: SPIR-V 1.4, VulkanMemoryModel, MaximallyReconvergesKHR; CooperativeMatrixKHR for the subgroup
 * matrices of the tensor-core kernels) are accepted.
 *
 * One JSON line per file on stdout: {file, device, driver, ..., executables: [{name, description, stages,
 * subgroupSize, stats: {NAME: value}, statDescriptions: {NAME: text}}], ir: [...]} or {file, error}.
 * The pipeline layout is reflected from the SPIR-V (DescriptorSet/Binding decorations and each variable's storage
 * class and type). Exit status: 0 all files done, 1 some file failed, 2 usage, 3 no usable device / extension.
 *
 * Only libc and libdl are linked: the Vulkan loader is opened at run time (libvulkan.so.1, or $VK_STATS_LIBVULKAN).
 */
#define VK_NO_PROTOTYPES
#include <vulkan/vulkan.h>

#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define EXT_NAME VK_KHR_PIPELINE_EXECUTABLE_PROPERTIES_EXTENSION_NAME

/* Tint's SPIR-V (Dawn) declares SPV_KHR_maximal_reconvergence; Vulkan headers before 1.3.274 lack the extension. */
#ifndef VK_KHR_shader_maximal_reconvergence
#define VK_KHR_SHADER_MAXIMAL_RECONVERGENCE_EXTENSION_NAME "VK_KHR_shader_maximal_reconvergence"
#define VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_MAXIMAL_RECONVERGENCE_FEATURES_KHR ((VkStructureType)1000434000)
typedef struct VkPhysicalDeviceShaderMaximalReconvergenceFeaturesKHR {
  VkStructureType sType;
  void *pNext;
  VkBool32 shaderMaximalReconvergence;
} VkPhysicalDeviceShaderMaximalReconvergenceFeaturesKHR;
#endif

/* Tint's SPIR-V for subgroup matrices declares SPV_KHR_cooperative_matrix; Vulkan headers before 1.3.255 lack it. */
#ifndef VK_KHR_cooperative_matrix
#define VK_KHR_COOPERATIVE_MATRIX_EXTENSION_NAME "VK_KHR_cooperative_matrix"
#define VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_KHR ((VkStructureType)1000506000)
typedef struct VkPhysicalDeviceCooperativeMatrixFeaturesKHR {
  VkStructureType sType;
  void *pNext;
  VkBool32 cooperativeMatrix;
  VkBool32 cooperativeMatrixRobustBufferAccess;
} VkPhysicalDeviceCooperativeMatrixFeaturesKHR;
#endif

static PFN_vkGetInstanceProcAddr gipa;
static VkInstance inst;
static VkPhysicalDevice phys;
static VkDevice dev;
static PFN_vkGetDeviceProcAddr gdpa;

#define IFN(name) static PFN_##name p_##name
IFN(vkEnumeratePhysicalDevices); IFN(vkGetPhysicalDeviceProperties); IFN(vkGetPhysicalDeviceProperties2);
IFN(vkGetPhysicalDeviceFeatures); IFN(vkGetPhysicalDeviceFeatures2); IFN(vkEnumerateDeviceExtensionProperties);
IFN(vkGetPhysicalDeviceQueueFamilyProperties); IFN(vkCreateDevice); IFN(vkDestroyInstance);
IFN(vkDestroyDevice); IFN(vkCreateShaderModule); IFN(vkDestroyShaderModule); IFN(vkCreateDescriptorSetLayout);
IFN(vkDestroyDescriptorSetLayout); IFN(vkCreatePipelineLayout); IFN(vkDestroyPipelineLayout);
IFN(vkCreateComputePipelines); IFN(vkDestroyPipeline); IFN(vkGetPipelineExecutablePropertiesKHR);
IFN(vkGetPipelineExecutableStatisticsKHR); IFN(vkGetPipelineExecutableInternalRepresentationsKHR);

static void die(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("vk-stats: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(code);
}

static const char *vkres(VkResult r) {
  switch (r) {
    case VK_SUCCESS: return "VK_SUCCESS";
    case VK_INCOMPLETE: return "VK_INCOMPLETE";
    case VK_ERROR_OUT_OF_HOST_MEMORY: return "VK_ERROR_OUT_OF_HOST_MEMORY";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "VK_ERROR_OUT_OF_DEVICE_MEMORY";
    case VK_ERROR_INITIALIZATION_FAILED: return "VK_ERROR_INITIALIZATION_FAILED";
    case VK_ERROR_EXTENSION_NOT_PRESENT: return "VK_ERROR_EXTENSION_NOT_PRESENT";
    case VK_ERROR_FEATURE_NOT_PRESENT: return "VK_ERROR_FEATURE_NOT_PRESENT";
    case VK_ERROR_INCOMPATIBLE_DRIVER: return "VK_ERROR_INCOMPATIBLE_DRIVER";
    case VK_ERROR_DEVICE_LOST: return "VK_ERROR_DEVICE_LOST";
    case VK_ERROR_INVALID_SHADER_NV: return "VK_ERROR_INVALID_SHADER_NV";
    case VK_PIPELINE_COMPILE_REQUIRED: return "VK_PIPELINE_COMPILE_REQUIRED";
    case VK_ERROR_UNKNOWN: return "VK_ERROR_UNKNOWN";
    default: return "VkResult";
  }
}

/* ---------- growing string buffer for one JSON line ---------- */
typedef struct { char *p; size_t n, cap; } Buf;
static void bput(Buf *b, const char *s, size_t n) {
  if (b->n + n + 1 > b->cap) {
    size_t c = b->cap ? b->cap : 4096;
    while (c < b->n + n + 1) c *= 2;
    char *q = realloc(b->p, c);
    if (!q) die(1, "out of memory");
    b->p = q;
    b->cap = c;
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = 0;
}
static void bf(Buf *b, const char *fmt, ...) {
  char tmp[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n < sizeof tmp) { bput(b, tmp, (size_t)n); return; }
  char *big = malloc((size_t)n + 1);
  if (!big) die(1, "out of memory");
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  bput(b, big, (size_t)n);
  free(big);
}
/* A JSON string (quotes included); bytes >= 0x80 are passed through (UTF-8 from the driver). */
static void bstr(Buf *b, const char *s) {
  bput(b, "\"", 1);
  for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
    if (*c == '"' || *c == '\\') { char e[2] = {'\\', (char)*c}; bput(b, e, 2); }
    else if (*c == '\n') bput(b, "\\n", 2);
    else if (*c == '\t') bput(b, "\\t", 2);
    else if (*c == '\r') bput(b, "\\r", 2);
    else if (*c < 0x20) bf(b, "\\u%04x", *c);
    else bput(b, (const char *)c, 1);
  }
  bput(b, "\"", 1);
}
/* A fixed-size char array from a Vulkan struct, bounded even if the driver forgot the terminator. */
static void bstrn(Buf *b, const char *s, size_t max) {
  char tmp[VK_MAX_DESCRIPTION_SIZE + 1];
  size_t n = strnlen(s, max < sizeof tmp - 1 ? max : sizeof tmp - 1);
  memcpy(tmp, s, n);
  tmp[n] = 0;
  bstr(b, tmp);
}

/* ---------- SPIR-V reflection (just enough for a pipeline layout) ---------- */
enum { OpEntryPoint = 15, OpExecutionMode = 16, OpTypeImage = 25, OpTypeSampler = 26, OpTypeSampledImage = 27,
       OpTypeArray = 28, OpTypeRuntimeArray = 29, OpTypeStruct = 30, OpTypePointer = 32, OpConstant = 43,
       OpVariable = 59, OpDecorate = 71, OpTypeAccelerationStructureKHR = 5341 };
enum { DecBlock = 2, DecBufferBlock = 3, DecBinding = 33, DecDescriptorSet = 34 };
enum { ScUniformConstant = 0, ScUniform = 2, ScPushConstant = 9, ScStorageBuffer = 12 };
enum { ModelGLCompute = 5, ModeLocalSize = 17 };

typedef struct { uint32_t set, binding, count; VkDescriptorType type; } Res;
typedef struct {
  char entry[256];
  uint32_t local[3];
  Res *res;
  uint32_t nres;
  int push;
} Reflect;

static int reflect(const uint32_t *w, size_t nw, Reflect *r, char *err, size_t errn) {
  memset(r, 0, sizeof *r);
  if (nw < 5 || w[0] != 0x07230203u) { snprintf(err, errn, "not SPIR-V (too short, or no SPIR-V magic number; byte-swapped files are not supported)"); return -1; }
  uint32_t bound = w[3];
  if (bound == 0 || bound > (1u << 24)) { snprintf(err, errn, "bad SPIR-V id bound %u", bound); return -1; }
  size_t *def = calloc(bound, sizeof *def);               /* word offset of the instruction defining each id */
  int64_t *set = malloc(bound * sizeof *set), *bind = malloc(bound * sizeof *bind);
  unsigned char *bufferBlock = calloc(bound, 1);
  uint32_t entryId = 0;
  int rc = -1;
  if (!def || !set || !bind || !bufferBlock) { snprintf(err, errn, "out of memory"); goto out; }
  for (uint32_t i = 0; i < bound; i++) set[i] = bind[i] = -1;
  for (size_t i = 5; i < nw;) {
    uint32_t op = w[i] & 0xffff, len = w[i] >> 16;
    if (len == 0 || i + len > nw) { snprintf(err, errn, "truncated SPIR-V instruction at word %zu", i); goto out; }
    switch (op) {
      case OpEntryPoint:
        if (len >= 4 && w[i + 1] == ModelGLCompute && !entryId) {
          entryId = w[i + 2];
          size_t maxc = (len - 3) * 4;
          const char *nm = (const char *)&w[i + 3];
          size_t n = strnlen(nm, maxc < sizeof r->entry - 1 ? maxc : sizeof r->entry - 1);
          memcpy(r->entry, nm, n);
          r->entry[n] = 0;
        }
        break;
      case OpExecutionMode:
        if (len >= 6 && w[i + 2] == ModeLocalSize && w[i + 1] == entryId) { r->local[0] = w[i + 3]; r->local[1] = w[i + 4]; r->local[2] = w[i + 5]; }
        break;
      case OpDecorate:
        if (len >= 3 && w[i + 1] < bound) {
          if (w[i + 2] == DecDescriptorSet && len >= 4) set[w[i + 1]] = w[i + 3];
          else if (w[i + 2] == DecBinding && len >= 4) bind[w[i + 1]] = w[i + 3];
          else if (w[i + 2] == DecBufferBlock) bufferBlock[w[i + 1]] = 1;
        }
        break;
      case OpTypeImage: case OpTypeSampler: case OpTypeSampledImage: case OpTypeArray: case OpTypeRuntimeArray:
      case OpTypeStruct: case OpTypePointer: case OpTypeAccelerationStructureKHR:
        if (len >= 2 && w[i + 1] < bound) def[w[i + 1]] = i;
        break;
      case OpConstant: case OpVariable:
        if (len >= 3 && w[i + 2] < bound) def[w[i + 2]] = i;
        break;
      default: break;
    }
    i += len;
  }
  if (!entryId) { snprintf(err, errn, "no GLCompute entry point"); goto out; }
  r->res = calloc(bound, sizeof *r->res);
  if (!r->res) { snprintf(err, errn, "out of memory"); goto out; }
  for (size_t i = 5; i < nw; i += w[i] >> 16) {
    if ((w[i] & 0xffff) != OpVariable || (w[i] >> 16) < 4) continue;
    uint32_t id = w[i + 2], sc = w[i + 3], ptr = w[i + 1];
    if (sc == ScPushConstant) { r->push = 1; continue; }
    if (set[id] < 0 && bind[id] < 0) continue;
    if (set[id] < 0 || bind[id] < 0) { snprintf(err, errn, "variable %%%u has only one of DescriptorSet/Binding", id); goto out; }
    if (ptr >= bound || !def[ptr] || (w[def[ptr]] & 0xffff) != OpTypePointer) { snprintf(err, errn, "variable %%%u: type is not a pointer", id); goto out; }
    uint32_t t = w[def[ptr] + 3], count = 1;
    while (t < bound && def[t] && ((w[def[t]] & 0xffff) == OpTypeArray || (w[def[t]] & 0xffff) == OpTypeRuntimeArray)) {
      if ((w[def[t]] & 0xffff) == OpTypeRuntimeArray) { snprintf(err, errn, "variable %%%u: runtime-sized descriptor array (descriptor indexing) is not supported", id); goto out; }
      uint32_t lenId = w[def[t] + 3];
      if (lenId >= bound || !def[lenId] || (w[def[lenId]] & 0xffff) != OpConstant) { snprintf(err, errn, "variable %%%u: array length is not a plain constant", id); goto out; }
      count *= w[def[lenId] + 3];
      t = w[def[t] + 2];
    }
    uint32_t top = (t < bound && def[t]) ? (w[def[t]] & 0xffff) : 0;
    VkDescriptorType dt;
    if (sc == ScStorageBuffer) dt = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    else if (sc == ScUniform) dt = bufferBlock[t] ? VK_DESCRIPTOR_TYPE_STORAGE_BUFFER : VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER;
    else if (sc == ScUniformConstant && top == OpTypeSampler) dt = VK_DESCRIPTOR_TYPE_SAMPLER;
    else if (sc == ScUniformConstant && top == OpTypeSampledImage) dt = VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER;
    else if (sc == ScUniformConstant && top == OpTypeImage) {
      uint32_t dim = w[def[t] + 3], sampled = w[def[t] + 7];
      if (dim == 5 /* Buffer */) dt = sampled == 2 ? VK_DESCRIPTOR_TYPE_STORAGE_TEXEL_BUFFER : VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER;
      else dt = sampled == 2 ? VK_DESCRIPTOR_TYPE_STORAGE_IMAGE : VK_DESCRIPTOR_TYPE_SAMPLED_IMAGE;
    } else { snprintf(err, errn, "variable %%%u: storage class %u / type op %u is not supported", id, sc, top); goto out; }
    int dup = 0;
    for (uint32_t k = 0; k < r->nres; k++)
      if (r->res[k].set == set[id] && r->res[k].binding == bind[id]) {
        if (r->res[k].type != dt) { snprintf(err, errn, "set %lld binding %lld used with two descriptor types", (long long)set[id], (long long)bind[id]); goto out; }
        dup = 1;
      }
    if (!dup) r->res[r->nres++] = (Res){(uint32_t)set[id], (uint32_t)bind[id], count, dt};
  }
  rc = 0;
out:
  free(def); free(set); free(bind); free(bufferBlock);
  if (rc) { free(r->res); r->res = NULL; }
  return rc;
}

/* ---------- files ---------- */
static uint32_t *read_words(const char *path, size_t *nw, char *err, size_t errn) {
  FILE *f = fopen(path, "rb");
  if (!f) { snprintf(err, errn, "cannot open: %s", strerror(errno)); return NULL; }
  uint32_t *w = NULL;
  size_t cap = 0, n = 0;
  for (;;) {
    if (n == cap) {
      cap = cap ? cap * 2 : 65536;
      uint32_t *q = realloc(w, cap * 4);
      if (!q) { free(w); fclose(f); snprintf(err, errn, "out of memory"); return NULL; }
      w = q;
    }
    size_t got = fread(w + n, 4, cap - n, f);
    n += got;
    if (got == 0) break;
  }
  int bad = ferror(f);
  long tail = ftell(f);
  fclose(f);
  if (bad || tail < 0 || (size_t)tail != n * 4) { free(w); snprintf(err, errn, bad ? "read error" : "size is not a multiple of 4"); return NULL; }
  *nw = n;
  return w;
}

static const char *base_name(const char *p) {
  const char *s = strrchr(p, '/');
  return s ? s + 1 : p;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ---------- device ---------- */
static int has_ext(VkPhysicalDevice pd, const char *name) {
  uint32_t n = 0;
  if (p_vkEnumerateDeviceExtensionProperties(pd, NULL, &n, NULL) != VK_SUCCESS) return 0;
  VkExtensionProperties *e = calloc(n ? n : 1, sizeof *e);
  if (!e) return 0;
  int found = 0;
  if (p_vkEnumerateDeviceExtensionProperties(pd, NULL, &n, e) >= 0)
    for (uint32_t i = 0; i < n; i++) if (!strcmp(e[i].extensionName, name)) found = 1;
  free(e);
  return found;
}

static void *gi(const char *name, int required) {
  void *f = (void *)gipa(inst, name);
  if (!f && required) die(3, "the Vulkan loader has no %s", name);
  return f;
}

typedef struct {
  VkPhysicalDeviceProperties props;
  char driverName[VK_MAX_DRIVER_NAME_SIZE + 1], driverInfo[VK_MAX_DRIVER_INFO_SIZE + 1];
  uint32_t subgroupSize, subgroupOps, subgroupStages, api;
  int haveExt, robust;
  char exts[512];  /* the device extensions enabled, comma-separated */
} DevInfo;

static void describe(Buf *b, const DevInfo *d) {
  const VkPhysicalDeviceProperties *p = &d->props;
  uint32_t v = p->driverVersion;
  char ver[64];
  if (p->vendorID == 0x10de) snprintf(ver, sizeof ver, "%u.%u.%u.%u", v >> 22, (v >> 14) & 0xff, (v >> 6) & 0xff, v & 0x3f);
  else snprintf(ver, sizeof ver, "%u.%u.%u", VK_API_VERSION_MAJOR(v), VK_API_VERSION_MINOR(v), VK_API_VERSION_PATCH(v));
  bf(b, "\"device\":");
  bstrn(b, p->deviceName, VK_MAX_PHYSICAL_DEVICE_NAME_SIZE);
  char drv[VK_MAX_DRIVER_NAME_SIZE + VK_MAX_DRIVER_INFO_SIZE + 80];
  if (d->driverName[0]) snprintf(drv, sizeof drv, "%s %s", d->driverName, d->driverInfo[0] ? d->driverInfo : ver);
  else snprintf(drv, sizeof drv, "%s", ver);
  bf(b, ",\"driver\":");
  bstr(b, drv);
  bf(b, ",\"driverVersion\":\"%s\",\"vendorID\":\"0x%04x\",\"deviceID\":\"0x%04x\",\"apiVersion\":\"%u.%u.%u\"", ver, p->vendorID, p->deviceID,
     VK_API_VERSION_MAJOR(p->apiVersion), VK_API_VERSION_MINOR(p->apiVersion), VK_API_VERSION_PATCH(p->apiVersion));
  bf(b, ",\"limits\":{\"maxComputeSharedMemorySize\":%u,\"maxComputeWorkGroupInvocations\":%u,\"subgroupSize\":%u},\"robustBufferAccess\":%s",
     p->limits.maxComputeSharedMemorySize, p->limits.maxComputeWorkGroupInvocations, d->subgroupSize, d->robust ? "true" : "false");
  bf(b, ",\"apiVersionUsed\":\"%u.%u\",\"extensionsEnabled\":[", VK_API_VERSION_MAJOR(d->api), VK_API_VERSION_MINOR(d->api));
  for (const char *s = d->exts; *s;) {
    const char *e = strchr(s, ',');
    size_t n = e ? (size_t)(e - s) : strlen(s);
    bf(b, "%s\"%.*s\"", s == d->exts ? "" : ",", (int)n, s);
    s += n + (e ? 1 : 0);
  }
  bf(b, "]");
}

static DevInfo setup(int want, int allowMissing, int robust) {
  DevInfo di;
  memset(&di, 0, sizeof di);
  const char *lib = getenv("VK_STATS_LIBVULKAN");
  void *h = dlopen(lib && *lib ? lib : "libvulkan.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!h && !(lib && *lib)) h = dlopen("libvulkan.so", RTLD_NOW | RTLD_LOCAL);
  if (!h) die(3, "cannot load the Vulkan loader (libvulkan.so.1): %s", dlerror());
  gipa = (PFN_vkGetInstanceProcAddr)dlsym(h, "vkGetInstanceProcAddr");
  if (!gipa) die(3, "libvulkan has no vkGetInstanceProcAddr");

  uint32_t loaderVer = VK_API_VERSION_1_0;
  PFN_vkEnumerateInstanceVersion eiv = (PFN_vkEnumerateInstanceVersion)gipa(NULL, "vkEnumerateInstanceVersion");
  if (eiv) eiv(&loaderVer);
  if (loaderVer < VK_API_VERSION_1_1) die(3, "the Vulkan loader supports only Vulkan 1.0; 1.1 or later is needed");
  PFN_vkCreateInstance ci = (PFN_vkCreateInstance)gipa(NULL, "vkCreateInstance");
  if (!ci) die(3, "the Vulkan loader has no vkCreateInstance");
  /* At most 1.3: the newest version whose feature structures this program chains (and these headers know). */
  uint32_t instVer = VK_MAKE_API_VERSION(0, VK_API_VERSION_MAJOR(loaderVer), VK_API_VERSION_MINOR(loaderVer), 0);
  if (instVer > VK_API_VERSION_1_3) instVer = VK_API_VERSION_1_3;
  VkApplicationInfo app = {VK_STRUCTURE_TYPE_APPLICATION_INFO, NULL, "vk-stats", 1, NULL, 0, instVer};
  VkInstanceCreateInfo ici = {VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO, NULL, 0, &app, 0, NULL, 0, NULL};
  VkResult r = ci(&ici, NULL, &inst);
  if (r != VK_SUCCESS) die(3, "vkCreateInstance: %s (%d); is a Vulkan driver (ICD) installed? VK_DRIVER_FILES=%s", vkres(r), r,
                           getenv("VK_DRIVER_FILES") ? getenv("VK_DRIVER_FILES") : "(unset)");
#define LI(name) p_##name = (PFN_##name)gi(#name, 1)
  LI(vkEnumeratePhysicalDevices); LI(vkGetPhysicalDeviceProperties); LI(vkGetPhysicalDeviceProperties2);
  LI(vkGetPhysicalDeviceFeatures); LI(vkGetPhysicalDeviceFeatures2); LI(vkEnumerateDeviceExtensionProperties);
  LI(vkGetPhysicalDeviceQueueFamilyProperties); LI(vkCreateDevice); LI(vkDestroyInstance);
  gdpa = (PFN_vkGetDeviceProcAddr)gi("vkGetDeviceProcAddr", 1);

  uint32_t n = 0;
  r = p_vkEnumeratePhysicalDevices(inst, &n, NULL);
  if (r != VK_SUCCESS || n == 0) die(3, "no Vulkan physical device (%s)", vkres(r));
  VkPhysicalDevice *pds = calloc(n, sizeof *pds);
  if (!pds) die(1, "out of memory");
  p_vkEnumeratePhysicalDevices(inst, &n, pds);
  int pick = -1, pickScore = -1;
  for (uint32_t i = 0; i < n; i++) {
    VkPhysicalDeviceProperties p;
    p_vkGetPhysicalDeviceProperties(pds[i], &p);
    int ext = has_ext(pds[i], EXT_NAME);
    fprintf(stderr, "vk-stats: device %u: %s (Vulkan %u.%u.%u)%s\n", i, p.deviceName, VK_API_VERSION_MAJOR(p.apiVersion),
            VK_API_VERSION_MINOR(p.apiVersion), VK_API_VERSION_PATCH(p.apiVersion), ext ? "" : " [no " EXT_NAME "]");
    int score = (p.apiVersion >= VK_API_VERSION_1_1 ? 1 : 0) + (ext ? 4 : 0) + (p.deviceType == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU ? 2 : 0);
    if (want < 0 && score > pickScore) { pick = (int)i; pickScore = score; }
  }
  if (want >= 0) {
    if ((uint32_t)want >= n) die(3, "--device %d: there are %u devices", want, n);
    pick = want;
  }
  phys = pds[pick];
  free(pds);

  VkPhysicalDeviceDriverProperties drv = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES, NULL};
  VkPhysicalDeviceSubgroupProperties sg = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES, NULL};
  VkPhysicalDeviceProperties2 p2 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, &sg};
  p_vkGetPhysicalDeviceProperties(phys, &di.props);
  if (di.props.apiVersion < VK_API_VERSION_1_1) die(3, "%s supports only Vulkan 1.0; 1.1 or later is needed", di.props.deviceName);
  if (di.props.apiVersion >= VK_API_VERSION_1_2 || has_ext(phys, VK_KHR_DRIVER_PROPERTIES_EXTENSION_NAME)) sg.pNext = &drv;
  p_vkGetPhysicalDeviceProperties2(phys, &p2);
  memcpy(di.driverName, drv.driverName, VK_MAX_DRIVER_NAME_SIZE);
  memcpy(di.driverInfo, drv.driverInfo, VK_MAX_DRIVER_INFO_SIZE);
  di.subgroupSize = sg.subgroupSize;
  di.subgroupOps = sg.supportedOperations;
  di.subgroupStages = sg.supportedStages;
  fprintf(stderr, "vk-stats: using device %d: %s, %s %s\n", pick, di.props.deviceName, di.driverName, di.driverInfo);
  if (!(sg.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) || !(sg.supportedOperations & VK_SUBGROUP_FEATURE_SHUFFLE_BIT))
    fprintf(stderr, "vk-stats: warning: the device has no subgroup shuffles in compute shaders; kernels with subgroups may fail\n");

  /* The Vulkan version used on the device: the lowest of the instance's (<= 1.3) and the device's. */
  di.api = VK_MAKE_API_VERSION(0, VK_API_VERSION_MAJOR(di.props.apiVersion), VK_API_VERSION_MINOR(di.props.apiVersion), 0);
  if (di.api > instVer) di.api = instVer;
  di.haveExt = has_ext(phys, EXT_NAME);
  int haveMR = has_ext(phys, VK_KHR_SHADER_MAXIMAL_RECONVERGENCE_EXTENSION_NAME);
  int haveSUCF = has_ext(phys, VK_KHR_SHADER_SUBGROUP_UNIFORM_CONTROL_FLOW_EXTENSION_NAME);
  int haveCM = has_ext(phys, VK_KHR_COOPERATIVE_MATRIX_EXTENSION_NAME);
  /* One chain, filled by vkGetPhysicalDeviceFeatures2 and then passed as it is to vkCreateDevice: every supported
   * feature on (robustBufferAccess excepted, below). */
  VkPhysicalDeviceVulkan11Features v11 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES, NULL};
  VkPhysicalDeviceVulkan12Features v12 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES, NULL};
  VkPhysicalDeviceVulkan13Features v13 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES, NULL};
  VkPhysicalDevicePipelineExecutablePropertiesFeaturesKHR pef = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PIPELINE_EXECUTABLE_PROPERTIES_FEATURES_KHR, NULL, VK_FALSE};
  VkPhysicalDeviceShaderMaximalReconvergenceFeaturesKHR mrf = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_MAXIMAL_RECONVERGENCE_FEATURES_KHR, NULL, VK_FALSE};
  VkPhysicalDeviceShaderSubgroupUniformControlFlowFeaturesKHR sucf = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_SUBGROUP_UNIFORM_CONTROL_FLOW_FEATURES_KHR, NULL, VK_FALSE};
  VkPhysicalDeviceCooperativeMatrixFeaturesKHR cmf = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_KHR, NULL, VK_FALSE, VK_FALSE};
  VkPhysicalDeviceFeatures2 f2 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, NULL};
  void **tail = &f2.pNext;
#define CHAIN(s)         \
  do {                   \
    *tail = &(s);        \
    tail = &(s).pNext;   \
  } while (0)
  if (di.api >= VK_API_VERSION_1_2) { CHAIN(v11); CHAIN(v12); }
  if (di.api >= VK_API_VERSION_1_3) CHAIN(v13);
  if (di.haveExt) CHAIN(pef);
  if (haveMR) CHAIN(mrf);
  if (haveSUCF) CHAIN(sucf);
  if (haveCM) CHAIN(cmf);
#undef CHAIN
  p_vkGetPhysicalDeviceFeatures2(phys, &f2);
  if (!di.haveExt || !pef.pipelineExecutableInfo) {
    const char *why = di.haveExt ? "has " EXT_NAME " but not its feature pipelineExecutableInfo" : "does not support " EXT_NAME;
    if (!allowMissing) die(3, "%s (%s %s) %s: it cannot report pipeline statistics (--allow-missing creates the pipelines anyway)",
                           di.props.deviceName, di.driverName, di.driverInfo, why);
    fprintf(stderr, "vk-stats: %s %s; creating pipelines without statistics (--allow-missing)\n", di.props.deviceName, why);
    if (di.haveExt) { pef.pipelineExecutableInfo = VK_FALSE; }
    di.haveExt = 0;
  }
  /* robustBufferAccess as Dawn (on where supported) unless --no-robust. */
  di.robust = robust && f2.features.robustBufferAccess;
  f2.features.robustBufferAccess = di.robust ? VK_TRUE : VK_FALSE;
  if (!di.robust) cmf.cooperativeMatrixRobustBufferAccess = VK_FALSE;
  /* Extensions: the statistics one, and those Tint's SPIR-V may declare, each only with its feature. An extension
   * whose feature struct is in the chain but that is not enabled would be invalid: unlink those. */
  const char *exts[8];
  uint32_t next = 0;
  for (VkBaseOutStructure *prev = (VkBaseOutStructure *)&f2, *s = prev->pNext; s; s = prev->pNext) {
    const char *name = NULL;
    int on = 0;
    if (s->sType == VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PIPELINE_EXECUTABLE_PROPERTIES_FEATURES_KHR) { name = EXT_NAME; on = di.haveExt; }
    else if (s->sType == VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_MAXIMAL_RECONVERGENCE_FEATURES_KHR) { name = VK_KHR_SHADER_MAXIMAL_RECONVERGENCE_EXTENSION_NAME; on = mrf.shaderMaximalReconvergence; }
    else if (s->sType == VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_SUBGROUP_UNIFORM_CONTROL_FLOW_FEATURES_KHR) { name = VK_KHR_SHADER_SUBGROUP_UNIFORM_CONTROL_FLOW_EXTENSION_NAME; on = sucf.shaderSubgroupUniformControlFlow; }
    else if (s->sType == VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_KHR) { name = VK_KHR_COOPERATIVE_MATRIX_EXTENSION_NAME; on = cmf.cooperativeMatrix; }
    if (name && !on) { prev->pNext = s->pNext; continue; }
    if (name) {
      exts[next++] = name;
      size_t used = strlen(di.exts);
      snprintf(di.exts + used, sizeof di.exts - used, "%s%s", used ? "," : "", name);
    }
    prev = s;
  }
  uint32_t nq = 0;
  p_vkGetPhysicalDeviceQueueFamilyProperties(phys, &nq, NULL);
  VkQueueFamilyProperties *qf = calloc(nq ? nq : 1, sizeof *qf);
  if (!qf) die(1, "out of memory");
  p_vkGetPhysicalDeviceQueueFamilyProperties(phys, &nq, qf);
  uint32_t qi = 0;
  for (uint32_t i = 0; i < nq; i++) if (qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT) { qi = i; break; }
  free(qf);
  float prio = 1.0f;
  VkDeviceQueueCreateInfo qci = {VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO, NULL, 0, qi, 1, &prio};
  VkDeviceCreateInfo dci = {VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, &f2, 0, 1, &qci, 0, NULL, next, next ? exts : NULL, NULL};
  r = p_vkCreateDevice(phys, &dci, NULL, &dev);
  if (r != VK_SUCCESS) die(3, "vkCreateDevice: %s (%d) (Vulkan %u.%u, extensions: %s)", vkres(r), r, VK_API_VERSION_MAJOR(di.api),
                           VK_API_VERSION_MINOR(di.api), di.exts[0] ? di.exts : "none");
  fprintf(stderr, "vk-stats: device created: Vulkan %u.%u features, all supported ones on (robustBufferAccess %s); extensions: %s\n",
          VK_API_VERSION_MAJOR(di.api), VK_API_VERSION_MINOR(di.api), di.robust ? "on" : "off", di.exts[0] ? di.exts : "none");
#define LD(name, req)                                                     \
  do {                                                                    \
    p_##name = (PFN_##name)gdpa(dev, #name);                              \
    if (!p_##name && (req)) die(3, "the device has no %s", #name);        \
  } while (0)
  LD(vkDestroyDevice, 1); LD(vkCreateShaderModule, 1); LD(vkDestroyShaderModule, 1); LD(vkCreateDescriptorSetLayout, 1);
  LD(vkDestroyDescriptorSetLayout, 1); LD(vkCreatePipelineLayout, 1); LD(vkDestroyPipelineLayout, 1);
  LD(vkCreateComputePipelines, 1); LD(vkDestroyPipeline, 1);
  LD(vkGetPipelineExecutablePropertiesKHR, di.haveExt); LD(vkGetPipelineExecutableStatisticsKHR, di.haveExt);
  LD(vkGetPipelineExecutableInternalRepresentationsKHR, di.haveExt);
  return di;
}

/* ---------- one file ---------- */
static const char *stage_name(VkShaderStageFlags s) {
  switch (s) {
    case VK_SHADER_STAGE_COMPUTE_BIT: return "compute";
    case VK_SHADER_STAGE_VERTEX_BIT: return "vertex";
    case VK_SHADER_STAGE_FRAGMENT_BIT: return "fragment";
    default: return "other";
  }
}

static const char *desc_name(VkDescriptorType t) {
  switch (t) {
    case VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER: return "uniform";
    case VK_DESCRIPTOR_TYPE_STORAGE_BUFFER: return "storage";
    case VK_DESCRIPTOR_TYPE_SAMPLER: return "sampler";
    case VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER: return "combined-image-sampler";
    case VK_DESCRIPTOR_TYPE_SAMPLED_IMAGE: return "sampled-image";
    case VK_DESCRIPTOR_TYPE_STORAGE_IMAGE: return "storage-image";
    case VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER: return "uniform-texel-buffer";
    case VK_DESCRIPTOR_TYPE_STORAGE_TEXEL_BUFFER: return "storage-texel-buffer";
    default: return "other";
  }
}

/* Internal representations of executable e: text ones appended to `txt`, others written to <out>.ir<e>-<k>.bin. */
static void capture_ir(Buf *b, VkPipeline pl, uint32_t e, const char *outBase, FILE **txt, const char *txtPath, int *first) {
  VkPipelineExecutableInfoKHR ei = {VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_INFO_KHR, NULL, pl, e};
  uint32_t n = 0;
  VkResult r = p_vkGetPipelineExecutableInternalRepresentationsKHR(dev, &ei, &n, NULL);
  if (r != VK_SUCCESS || n == 0) return;
  VkPipelineExecutableInternalRepresentationKHR *ir = calloc(n, sizeof *ir);
  if (!ir) return;
  for (uint32_t k = 0; k < n; k++) ir[k].sType = VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_INTERNAL_REPRESENTATION_KHR;
  r = p_vkGetPipelineExecutableInternalRepresentationsKHR(dev, &ei, &n, ir); /* sizes only (pData NULL) */
  if (r < 0) { free(ir); return; }
  for (uint32_t k = 0; k < n; k++) {
    ir[k].pData = ir[k].dataSize ? malloc(ir[k].dataSize) : NULL;
    if (ir[k].dataSize && !ir[k].pData) ir[k].dataSize = 0;
  }
  r = p_vkGetPipelineExecutableInternalRepresentationsKHR(dev, &ei, &n, ir);
  for (uint32_t k = 0; k < n && r >= 0; k++) {
    char path[4096] = "";
    size_t size = ir[k].dataSize;
    if (ir[k].isText) {
      if (!*txt && !(*txt = fopen(txtPath, "w"))) fprintf(stderr, "vk-stats: cannot write %s: %s\n", txtPath, strerror(errno));
      if (*txt) {
        const char *s = ir[k].pData ? (const char *)ir[k].pData : "";
        size_t len = strnlen(s, size);
        char name[VK_MAX_DESCRIPTION_SIZE + 1], desc[VK_MAX_DESCRIPTION_SIZE + 1];
        snprintf(name, sizeof name, "%.*s", VK_MAX_DESCRIPTION_SIZE, ir[k].name);
        snprintf(desc, sizeof desc, "%.*s", VK_MAX_DESCRIPTION_SIZE, ir[k].description);
        fprintf(*txt, "==== executable %u, %s: %s ====\n", e, name, desc);
        fwrite(s, 1, len, *txt);
        if (len && s[len - 1] != '\n') fputc('\n', *txt);
        snprintf(path, sizeof path, "%s", txtPath);
        size = len;
      }
    } else if (ir[k].pData && size) {
      snprintf(path, sizeof path, "%s.ir%u-%u.bin", outBase, e, k);
      FILE *f = fopen(path, "wb");
      if (!f || fwrite(ir[k].pData, 1, size, f) != size) { fprintf(stderr, "vk-stats: cannot write %s\n", path); path[0] = 0; }
      if (f) fclose(f);
    }
    bf(b, "%s{\"executable\":%u,\"name\":", *first ? "" : ",", e);
    *first = 0;
    bstrn(b, ir[k].name, VK_MAX_DESCRIPTION_SIZE);
    bf(b, ",\"description\":");
    bstrn(b, ir[k].description, VK_MAX_DESCRIPTION_SIZE);
    bf(b, ",\"isText\":%s,\"bytes\":%zu,\"path\":", ir[k].isText ? "true" : "false", size);
    if (path[0]) bstr(b, path); else bf(b, "null");
    bf(b, "}");
  }
  for (uint32_t k = 0; k < n; k++) free(ir[k].pData);
  free(ir);
}

static int run_file(const char *file, const DevInfo *di, const char *irDir, int wantIr) {
  char err[1024] = "";
  Buf b = {0};
  bf(&b, "{\"file\":");
  bstr(&b, file);
  bf(&b, ",");
  describe(&b, di);
  size_t nw = 0;
  uint32_t *w = read_words(file, &nw, err, sizeof err);
  Reflect rf = {0};
  VkShaderModule sm = VK_NULL_HANDLE;
  VkDescriptorSetLayout dsl[32] = {0};
  uint32_t nsets = 0;
  VkPipelineLayout layout = VK_NULL_HANDLE;
  VkPipeline pl = VK_NULL_HANDLE;
  VkResult r;
  int ok = 0;
  if (!w) goto fail;
  if (reflect(w, nw, &rf, err, sizeof err)) goto fail;
  for (uint32_t k = 0; k < rf.nres; k++) {
    if (rf.res[k].set >= 32) { snprintf(err, sizeof err, "descriptor set %u >= 32", rf.res[k].set); goto fail; }
    if (rf.res[k].set + 1 > nsets) nsets = rf.res[k].set + 1;
  }
  bf(&b, ",\"entryPoint\":");
  bstr(&b, rf.entry);
  bf(&b, ",\"workgroupSize\":[%u,%u,%u],\"bindings\":[", rf.local[0], rf.local[1], rf.local[2]);
  for (uint32_t k = 0; k < rf.nres; k++)
    bf(&b, "%s{\"set\":%u,\"binding\":%u,\"type\":\"%s\",\"count\":%u}", k ? "," : "", rf.res[k].set, rf.res[k].binding, desc_name(rf.res[k].type), rf.res[k].count);
  bf(&b, "]");

  VkShaderModuleCreateInfo smi = {VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO, NULL, 0, nw * 4, w};
  if ((r = p_vkCreateShaderModule(dev, &smi, NULL, &sm)) != VK_SUCCESS) { snprintf(err, sizeof err, "vkCreateShaderModule: %s (%d)", vkres(r), r); goto fail; }
  for (uint32_t s = 0; s < nsets; s++) {
    VkDescriptorSetLayoutBinding lb[256];
    uint32_t nb = 0;
    for (uint32_t k = 0; k < rf.nres && nb < 256; k++)
      if (rf.res[k].set == s) lb[nb++] = (VkDescriptorSetLayoutBinding){rf.res[k].binding, rf.res[k].type, rf.res[k].count, VK_SHADER_STAGE_COMPUTE_BIT, NULL};
    VkDescriptorSetLayoutCreateInfo li = {VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO, NULL, 0, nb, nb ? lb : NULL};
    if ((r = p_vkCreateDescriptorSetLayout(dev, &li, NULL, &dsl[s])) != VK_SUCCESS) { snprintf(err, sizeof err, "vkCreateDescriptorSetLayout: %s (%d)", vkres(r), r); goto fail; }
  }
  VkPushConstantRange pcr = {VK_SHADER_STAGE_COMPUTE_BIT, 0, di->props.limits.maxPushConstantsSize};
  VkPipelineLayoutCreateInfo pli = {VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO, NULL, 0, nsets, dsl, rf.push ? 1u : 0u, &pcr};
  if ((r = p_vkCreatePipelineLayout(dev, &pli, NULL, &layout)) != VK_SUCCESS) { snprintf(err, sizeof err, "vkCreatePipelineLayout: %s (%d)", vkres(r), r); goto fail; }
  VkPipelineCreateFlags flags = 0;
  if (di->haveExt) flags |= VK_PIPELINE_CREATE_CAPTURE_STATISTICS_BIT_KHR | (wantIr ? VK_PIPELINE_CREATE_CAPTURE_INTERNAL_REPRESENTATIONS_BIT_KHR : 0);
  VkComputePipelineCreateInfo cpi = {VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO, NULL, flags,
                                     {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, NULL, 0, VK_SHADER_STAGE_COMPUTE_BIT, sm, rf.entry, NULL},
                                     layout, VK_NULL_HANDLE, -1};
  double t0 = now_ms();
  r = p_vkCreateComputePipelines(dev, VK_NULL_HANDLE, 1, &cpi, NULL, &pl);
  double ms = now_ms() - t0;
  if (r != VK_SUCCESS) { snprintf(err, sizeof err, "vkCreateComputePipelines: %s (%d)", vkres(r), r); pl = VK_NULL_HANDLE; goto fail; }
  bf(&b, ",\"createMs\":%.1f", ms);

  if (!di->haveExt) {
    bf(&b, ",\"executables\":null,\"note\":\"the device has no " EXT_NAME ": pipeline created, no statistics\"}");
    ok = 1;
    goto done;
  }
  VkPipelineInfoKHR pinfo = {VK_STRUCTURE_TYPE_PIPELINE_INFO_KHR, NULL, pl};
  uint32_t ne = 0;
  if ((r = p_vkGetPipelineExecutablePropertiesKHR(dev, &pinfo, &ne, NULL)) != VK_SUCCESS) { snprintf(err, sizeof err, "vkGetPipelineExecutablePropertiesKHR: %s (%d)", vkres(r), r); goto fail; }
  VkPipelineExecutablePropertiesKHR *ep = calloc(ne ? ne : 1, sizeof *ep);
  if (!ep) { snprintf(err, sizeof err, "out of memory"); goto fail; }
  for (uint32_t e = 0; e < ne; e++) ep[e].sType = VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_PROPERTIES_KHR;
  if ((r = p_vkGetPipelineExecutablePropertiesKHR(dev, &pinfo, &ne, ep)) < 0) { free(ep); snprintf(err, sizeof err, "vkGetPipelineExecutablePropertiesKHR: %s (%d)", vkres(r), r); goto fail; }
  bf(&b, ",\"executables\":[");
  for (uint32_t e = 0; e < ne; e++) {
    bf(&b, "%s{\"name\":", e ? "," : "");
    bstrn(&b, ep[e].name, VK_MAX_DESCRIPTION_SIZE);
    bf(&b, ",\"description\":");
    bstrn(&b, ep[e].description, VK_MAX_DESCRIPTION_SIZE);
    bf(&b, ",\"stages\":[");
    int fs = 1;
    for (uint32_t bit = 1; bit; bit <<= 1)
      if (ep[e].stages & bit) { bf(&b, "%s\"%s\"", fs ? "" : ",", stage_name(bit)); fs = 0; }
    bf(&b, "],\"subgroupSize\":%u,\"stats\":{", ep[e].subgroupSize);
    VkPipelineExecutableInfoKHR ei = {VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_INFO_KHR, NULL, pl, e};
    uint32_t ns = 0;
    VkPipelineExecutableStatisticKHR *st = NULL;
    if (p_vkGetPipelineExecutableStatisticsKHR(dev, &ei, &ns, NULL) == VK_SUCCESS && ns && (st = calloc(ns, sizeof *st))) {
      for (uint32_t k = 0; k < ns; k++) st[k].sType = VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_STATISTIC_KHR;
      if (p_vkGetPipelineExecutableStatisticsKHR(dev, &ei, &ns, st) < 0) ns = 0;
    } else ns = 0;
    for (uint32_t k = 0; k < ns; k++) {
      bf(&b, "%s", k ? "," : "");
      bstrn(&b, st[k].name, VK_MAX_DESCRIPTION_SIZE);
      bf(&b, ":");
      switch (st[k].format) {
        case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_BOOL32_KHR: bf(&b, "%s", st[k].value.b32 ? "true" : "false"); break;
        case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_INT64_KHR: bf(&b, "%lld", (long long)st[k].value.i64); break;
        case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_UINT64_KHR: bf(&b, "%llu", (unsigned long long)st[k].value.u64); break;
        case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_FLOAT64_KHR:
          if (isfinite(st[k].value.f64)) bf(&b, "%.17g", st[k].value.f64); else bf(&b, "null");
          break;
        default: bf(&b, "null"); break;
      }
    }
    bf(&b, "},\"statDescriptions\":{");
    for (uint32_t k = 0; k < ns; k++) {
      bf(&b, "%s", k ? "," : "");
      bstrn(&b, st[k].name, VK_MAX_DESCRIPTION_SIZE);
      bf(&b, ":");
      bstrn(&b, st[k].description, VK_MAX_DESCRIPTION_SIZE);
    }
    bf(&b, "}}");
    free(st);
  }
  bf(&b, "]");
  if (wantIr) {
    char outBase[4096], txtPath[4200];
    if (irDir) snprintf(outBase, sizeof outBase, "%s/%s", irDir, base_name(file));
    else snprintf(outBase, sizeof outBase, "%s", file);
    snprintf(txtPath, sizeof txtPath, "%s.ir.txt", outBase);
    FILE *txt = NULL;
    int first = 1;
    remove(txtPath);
    bf(&b, ",\"ir\":[");
    for (uint32_t e = 0; e < ne; e++) capture_ir(&b, pl, e, outBase, &txt, txtPath, &first);
    bf(&b, "]");
    if (txt) fclose(txt);
  }
  free(ep);
  bf(&b, "}");
  ok = 1;
  goto done;
fail:
  /* Start again: the line is {file, device fields, error}. */
  b.n = 0;
  bf(&b, "{\"file\":");
  bstr(&b, file);
  bf(&b, ",");
  describe(&b, di);
  bf(&b, ",\"error\":");
  bstr(&b, err);
  bf(&b, "}");
  fprintf(stderr, "vk-stats: %s: %s\n", file, err);
done:
  puts(b.p);
  fflush(stdout);
  if (pl) p_vkDestroyPipeline(dev, pl, NULL);
  if (layout) p_vkDestroyPipelineLayout(dev, layout, NULL);
  for (uint32_t s = 0; s < nsets; s++) if (dsl[s]) p_vkDestroyDescriptorSetLayout(dev, dsl[s], NULL);
  if (sm) p_vkDestroyShaderModule(dev, sm, NULL);
  free(rf.res);
  free(w);
  free(b.p);
  return ok;
}

int main(int argc, char **argv) {
  const char *irDir = NULL;
  int wantIr = 1, robust = 1, allowMissing = 0, want = -1, nfiles = 0;
  char **files = calloc((size_t)argc, sizeof *files);
  if (!files) die(1, "out of memory");
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--ir-dir") && i + 1 < argc) irDir = argv[++i];
    else if (!strcmp(argv[i], "--no-ir")) wantIr = 0;
    else if (!strcmp(argv[i], "--no-robust")) robust = 0;
    else if (!strcmp(argv[i], "--allow-missing")) allowMissing = 1;
    else if (!strcmp(argv[i], "--device") && i + 1 < argc) want = atoi(argv[++i]);
    else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) nfiles = -1;
    else if (argv[i][0] == '-' && argv[i][1]) die(2, "unknown option %s (see --help)", argv[i]);
    else if (nfiles >= 0) files[nfiles++] = argv[i];
  }
  if (nfiles <= 0) {
    fprintf(stderr, "usage: vk-stats [--ir-dir DIR] [--no-ir] [--no-robust] [--device N] [--allow-missing] FILE.spv...\n"
                    "One JSON line per file: the statistics the driver reports through " EXT_NAME ".\n");
    return 2;
  }
  if (irDir && wantIr && mkdir(irDir, 0777) && errno != EEXIST) die(2, "--ir-dir %s: %s", irDir, strerror(errno));
  DevInfo di = setup(want, allowMissing, robust);
  int failed = 0;
  for (int i = 0; i < nfiles; i++) failed += !run_file(files[i], &di, irDir, wantIr);
  p_vkDestroyDevice(dev, NULL);
  p_vkDestroyInstance(inst, NULL);
  free(files);
  return failed ? 1 : 0;
}
