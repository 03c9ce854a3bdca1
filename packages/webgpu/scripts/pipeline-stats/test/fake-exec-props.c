/*
 * Test only: a stand-in for libvulkan.so.1 (VK_STATS_LIBVULKAN=.../fake-exec-props.so) that forwards everything to
 * the real loader but adds VK_KHR_pipeline_executable_properties with made-up statistics and internal
 * representations, so that vk-stats's statistics, JSON and IR paths can run on a driver without the extension
 * (lavapipe). The extension and capture flags are stripped before the real driver sees them.
 */
#define VK_NO_PROTOTYPES
#include <vulkan/vulkan.h>

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXT VK_KHR_PIPELINE_EXECUTABLE_PROPERTIES_EXTENSION_NAME
static PFN_vkGetInstanceProcAddr real_gipa;
static VkInstance last_inst;

static void load(void) {
  if (real_gipa) return;
  void *h = dlopen("libvulkan.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!h || !(real_gipa = (PFN_vkGetInstanceProcAddr)dlsym(h, "vkGetInstanceProcAddr"))) { fprintf(stderr, "fake: no real loader\n"); abort(); }
}

static VKAPI_ATTR VkResult VKAPI_CALL enum_ext(VkPhysicalDevice pd, const char *layer, uint32_t *n, VkExtensionProperties *p) {
  PFN_vkEnumerateDeviceExtensionProperties real = (PFN_vkEnumerateDeviceExtensionProperties)real_gipa(last_inst, "vkEnumerateDeviceExtensionProperties");
  if (layer) return real(pd, layer, n, p);
  uint32_t m = 0;
  VkResult r = real(pd, NULL, &m, NULL);
  if (r != VK_SUCCESS) return r;
  if (!p) { *n = m + 1; return VK_SUCCESS; }
  VkExtensionProperties *all = calloc(m + 1, sizeof *all);
  real(pd, NULL, &m, all);
  snprintf(all[m].extensionName, sizeof all[m].extensionName, "%s", EXT);
  all[m].specVersion = 1;
  uint32_t k = *n < m + 1 ? *n : m + 1;
  memcpy(p, all, k * sizeof *all);
  free(all);
  *n = k;
  return k < m + 1 ? VK_INCOMPLETE : VK_SUCCESS;
}

static VKAPI_ATTR void VKAPI_CALL features2(VkPhysicalDevice pd, VkPhysicalDeviceFeatures2 *f) {
  ((PFN_vkGetPhysicalDeviceFeatures2)real_gipa(last_inst, "vkGetPhysicalDeviceFeatures2"))(pd, f);
  for (VkBaseOutStructure *s = (VkBaseOutStructure *)f; s; s = s->pNext)
    if (s->sType == VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PIPELINE_EXECUTABLE_PROPERTIES_FEATURES_KHR)
      ((VkPhysicalDevicePipelineExecutablePropertiesFeaturesKHR *)s)->pipelineExecutableInfo = VK_TRUE;
}

static VKAPI_ATTR VkResult VKAPI_CALL create_device(VkPhysicalDevice pd, const VkDeviceCreateInfo *ci, const VkAllocationCallbacks *a, VkDevice *d) {
  VkDeviceCreateInfo c = *ci;
  const char *names[64];
  uint32_t n = 0, found = 0;
  for (uint32_t i = 0; i < ci->enabledExtensionCount && n < 64; i++)
    if (strcmp(ci->ppEnabledExtensionNames[i], EXT)) names[n++] = ci->ppEnabledExtensionNames[i]; else found = 1;
  if (!found) { fprintf(stderr, "fake: vkCreateDevice without %s\n", EXT); return VK_ERROR_EXTENSION_NOT_PRESENT; }
  c.enabledExtensionCount = n;
  c.ppEnabledExtensionNames = names;
  /* Unlink the feature struct for the call (and check it asks for pipelineExecutableInfo), then put it back. */
  VkBaseOutStructure *prev = (VkBaseOutStructure *)&c, *s = prev->pNext, *cut = NULL;
  for (; s; prev = s, s = s->pNext)
    if (s->sType == VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PIPELINE_EXECUTABLE_PROPERTIES_FEATURES_KHR) { cut = s; break; }
  if (!cut || !((VkPhysicalDevicePipelineExecutablePropertiesFeaturesKHR *)cut)->pipelineExecutableInfo) {
    fprintf(stderr, "fake: pipelineExecutableInfo not enabled\n");
    return VK_ERROR_FEATURE_NOT_PRESENT;
  }
  prev->pNext = cut->pNext;
  VkResult r = ((PFN_vkCreateDevice)real_gipa(last_inst, "vkCreateDevice"))(pd, &c, a, d);
  if (prev != (VkBaseOutStructure *)&c) prev->pNext = cut;
  return r;
}

static PFN_vkGetDeviceProcAddr real_gdpa;

static VKAPI_ATTR VkResult VKAPI_CALL create_compute(VkDevice d, VkPipelineCache pc, uint32_t n, const VkComputePipelineCreateInfo *ci, const VkAllocationCallbacks *a, VkPipeline *p) {
  VkComputePipelineCreateInfo c[16];
  if (n > 16) return VK_ERROR_OUT_OF_HOST_MEMORY;
  for (uint32_t i = 0; i < n; i++) {
    c[i] = ci[i];
    if (!(c[i].flags & VK_PIPELINE_CREATE_CAPTURE_STATISTICS_BIT_KHR)) fprintf(stderr, "fake: pipeline created without CAPTURE_STATISTICS\n");
    c[i].flags &= ~(VkPipelineCreateFlags)(VK_PIPELINE_CREATE_CAPTURE_STATISTICS_BIT_KHR | VK_PIPELINE_CREATE_CAPTURE_INTERNAL_REPRESENTATIONS_BIT_KHR);
  }
  return ((PFN_vkCreateComputePipelines)real_gdpa(d, "vkCreateComputePipelines"))(d, pc, n, c, a, p);
}

static VKAPI_ATTR VkResult VKAPI_CALL exec_props(VkDevice d, const VkPipelineInfoKHR *pi, uint32_t *n, VkPipelineExecutablePropertiesKHR *p) {
  (void)d; (void)pi;
  if (!p) { *n = 1; return VK_SUCCESS; }
  if (*n < 1) return VK_INCOMPLETE;
  *n = 1;
  snprintf(p[0].name, VK_MAX_DESCRIPTION_SIZE, "Compute Shader");
  snprintf(p[0].description, VK_MAX_DESCRIPTION_SIZE, "fake \"executable\"\tfor tests");
  p[0].stages = VK_SHADER_STAGE_COMPUTE_BIT;
  p[0].subgroupSize = 32;
  return VK_SUCCESS;
}

static VKAPI_ATTR VkResult VKAPI_CALL exec_stats(VkDevice d, const VkPipelineExecutableInfoKHR *ei, uint32_t *n, VkPipelineExecutableStatisticKHR *s) {
  (void)d;
  if (ei->executableIndex != 0) return VK_ERROR_UNKNOWN;
  const uint32_t total = 4;
  if (!s) { *n = total; return VK_SUCCESS; }
  uint32_t k = *n < total ? *n : total;
  for (uint32_t i = 0; i < k; i++) {
    static const char *names[] = {"Register Count", "Local Memory Size", "Uses Barriers", "Occupancy"};
    snprintf(s[i].name, VK_MAX_DESCRIPTION_SIZE, "%s", names[i]);
    snprintf(s[i].description, VK_MAX_DESCRIPTION_SIZE, "fake %s", names[i]);
    if (i == 0) { s[i].format = VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_UINT64_KHR; s[i].value.u64 = 168; }
    if (i == 1) { s[i].format = VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_INT64_KHR; s[i].value.i64 = -1; }
    if (i == 2) { s[i].format = VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_BOOL32_KHR; s[i].value.b32 = VK_TRUE; }
    if (i == 3) { s[i].format = VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_FLOAT64_KHR; s[i].value.f64 = 0.375; }
  }
  *n = k;
  return k < total ? VK_INCOMPLETE : VK_SUCCESS;
}

static VKAPI_ATTR VkResult VKAPI_CALL exec_ir(VkDevice d, const VkPipelineExecutableInfoKHR *ei, uint32_t *n, VkPipelineExecutableInternalRepresentationKHR *r) {
  (void)d; (void)ei;
  static const char text[] = "        /*0000*/  MOV R1, c[0x0][0x28] ;\n        /*0010*/  EXIT ;";
  static const unsigned char bin[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  if (!r) { *n = 2; return VK_SUCCESS; }
  uint32_t k = *n < 2 ? *n : 2;
  VkResult res = k < 2 ? VK_INCOMPLETE : VK_SUCCESS;
  for (uint32_t i = 0; i < k; i++) {
    const void *src = i ? (const void *)bin : (const void *)text;
    size_t size = i ? sizeof bin : sizeof text;
    snprintf(r[i].name, VK_MAX_DESCRIPTION_SIZE, i ? "Binary" : "SASS");
    snprintf(r[i].description, VK_MAX_DESCRIPTION_SIZE, i ? "fake binary" : "fake disassembly");
    r[i].isText = i ? VK_FALSE : VK_TRUE;
    if (r[i].pData) {
      size_t m = r[i].dataSize < size ? r[i].dataSize : size;
      memcpy(r[i].pData, src, m);
      if (m < size) res = VK_INCOMPLETE;
    }
    r[i].dataSize = size;
  }
  *n = k;
  return res;
}

static VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL get_device_proc(VkDevice d, const char *name) {
  if (!strcmp(name, "vkCreateComputePipelines")) return (PFN_vkVoidFunction)create_compute;
  if (!strcmp(name, "vkGetPipelineExecutablePropertiesKHR")) return (PFN_vkVoidFunction)exec_props;
  if (!strcmp(name, "vkGetPipelineExecutableStatisticsKHR")) return (PFN_vkVoidFunction)exec_stats;
  if (!strcmp(name, "vkGetPipelineExecutableInternalRepresentationsKHR")) return (PFN_vkVoidFunction)exec_ir;
  return real_gdpa(d, name);
}

VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL vkGetInstanceProcAddr(VkInstance inst, const char *name) {
  load();
  if (inst) last_inst = inst;
  if (inst && !real_gdpa) real_gdpa = (PFN_vkGetDeviceProcAddr)real_gipa(inst, "vkGetDeviceProcAddr");
  if (inst && !strcmp(name, "vkEnumerateDeviceExtensionProperties")) return (PFN_vkVoidFunction)enum_ext;
  if (inst && !strcmp(name, "vkGetPhysicalDeviceFeatures2")) return (PFN_vkVoidFunction)features2;
  if (inst && !strcmp(name, "vkCreateDevice")) return (PFN_vkVoidFunction)create_device;
  if (inst && !strcmp(name, "vkGetDeviceProcAddr")) return (PFN_vkVoidFunction)get_device_proc;
  return real_gipa(inst, name);
}
