#include "onnx_spatial.h"

#include "keel/core/error.h"
#include "keel/kernels/conv.h"

namespace keel::onnx {

namespace {

std::string to_nchw(OnnxGraph& g, const std::string& x, const std::string& prefix) {
  return g.node("Transpose", prefix + "/to_nchw", {x}, {{"perm", {}, {}, {}, {0, 3, 1, 2}}});
}

std::string to_nhwc(OnnxGraph& g, const std::string& x, const std::string& prefix) {
  return g.node("Transpose", prefix + "/to_nhwc", {x}, {{"perm", {}, {}, {}, {0, 2, 3, 1}}});
}

// ONNX pads [top, left, bottom, right] of a window of `kernel` at `strides` / `dilation` over the
// input's H and W (NHWC dims), by TensorFlow's 'same' rule or none.
std::vector<int64_t> window_pads(const Shape& input, Size2 kernel, Size2 strides, Size2 dilation,
                                 bool same) {
  if (!same) return {0, 0, 0, 0};
  const Padding1d h = same_padding(input[1], kernel.h, strides.h, dilation.h);
  const Padding1d w = same_padding(input[2], kernel.w, strides.w, dilation.w);
  return {h.before, w.before, h.after, w.after};
}

// Conv over an NHWC input with an ONNX-layout weight (c_out, c_in/group, kh, kw).
std::string emit_conv(OnnxGraph& g, const OnnxCall& c, const Layer& layer,
                      const std::vector<float>& w, std::vector<int64_t> w_dims, Size2 kernel,
                      Size2 strides, Size2 dilation, bool same, int64_t group) {
  const Variable* kernel_var = layer.find_variable("kernel");
  if (kernel_var == nullptr) kernel_var = layer.find_variable("depthwise_kernel");
  std::vector<std::string> inputs{
      to_nchw(g, c.inputs[0], c.prefix),
      g.initializer(without_output_index(kernel_var->name), w_dims, w.data())};
  if (const Variable* bias = layer.find_variable("bias")) {
    inputs.push_back(g.initializer(without_output_index(bias->name), bias->shape, bias->value));
  }
  const std::string y = g.node(
      "Conv", c.prefix, inputs,
      {{"kernel_shape", {}, {}, {}, {kernel.h, kernel.w}},
       {"strides", {}, {}, {}, {strides.h, strides.w}},
       {"dilations", {}, {}, {}, {dilation.h, dilation.w}},
       {"group", {}, group},
       {"pads", {}, {}, {}, window_pads(c.input_shapes[0], kernel, strides, dilation, same)}});
  return to_nhwc(g, y, c.prefix);
}

std::string emit_pool(OnnxGraph& g, const Pooling2D& layer, const OnnxCall& c, const char* op) {
  const Size2 pool = layer.options().pool_size, strides = layer.strides();
  std::vector<Attribute> attributes{
      {"kernel_shape", {}, {}, {}, {pool.h, pool.w}},
      {"strides", {}, {}, {}, {strides.h, strides.w}},
      {"pads", {}, {}, {}, window_pads(c.input_shapes[0], pool, strides, 1, layer.same_padding())}};
  // ONNX's default, written out: TF's 'same' average divides by the cells inside the input.
  if (std::string(op) == "AveragePool") attributes.push_back({"count_include_pad", {}, 0});
  return to_nhwc(g, g.node(op, c.prefix, {to_nchw(g, c.inputs[0], c.prefix)}, attributes),
                 c.prefix);
}

}  // namespace

std::vector<std::string> emit_conv2d(OnnxGraph& g, const Conv2D& layer, const OnnxCall& c) {
  const Variable* kernel = layer.find_variable("kernel");
  const int64_t kh = kernel->shape[0], kw = kernel->shape[1], cin = kernel->shape[2],
                cout = kernel->shape[3];
  std::vector<float> w(static_cast<size_t>(kernel->size()));
  for (int64_t i = 0; i < kh; ++i)
    for (int64_t j = 0; j < kw; ++j)
      for (int64_t ci = 0; ci < cin; ++ci)
        for (int64_t o = 0; o < cout; ++o)
          w[size_t(((o * cin + ci) * kh + i) * kw + j)] = kernel->value[((i * kw + j) * cin + ci) * cout + o];
  const Conv2DOptions& o = layer.options();
  const std::string y = emit_conv(g, c, layer, w, {cout, cin, kh, kw}, layer.kernel_size(),
                                  o.strides, o.dilation_rate, layer.same_padding(), o.groups);
  return {emit_activation(g, layer.activation().kind(), y, c.prefix)};
}

std::vector<std::string> emit_depthwise_conv2d(OnnxGraph& g, const DepthwiseConv2D& layer,
                                               const OnnxCall& c) {
  const Variable* kernel = layer.find_variable("depthwise_kernel");
  const int64_t kh = kernel->shape[0], kw = kernel->shape[1], ch = kernel->shape[2],
                m = kernel->shape[3];
  std::vector<float> w(static_cast<size_t>(kernel->size()));
  for (int64_t i = 0; i < kh; ++i)
    for (int64_t j = 0; j < kw; ++j)
      for (int64_t ci = 0; ci < ch; ++ci)
        for (int64_t k = 0; k < m; ++k)
          w[size_t(((ci * m + k) * kh + i) * kw + j)] = kernel->value[((i * kw + j) * ch + ci) * m + k];
  const DepthwiseConv2DOptions& o = layer.options();
  const std::string y = emit_conv(g, c, layer, w, {ch * m, 1, kh, kw}, layer.kernel_size(),
                                  o.strides, o.dilation_rate, layer.same_padding(), ch);
  return {emit_activation(g, o.activation.kind(), y, c.prefix)};
}

std::vector<std::string> emit_max_pooling2d(OnnxGraph& g, const MaxPooling2D& layer,
                                            const OnnxCall& c) {
  return {emit_pool(g, layer, c, "MaxPool")};
}

std::vector<std::string> emit_average_pooling2d(OnnxGraph& g, const AveragePooling2D& layer,
                                                const OnnxCall& c) {
  return {emit_pool(g, layer, c, "AveragePool")};
}

std::vector<std::string> emit_global_average_pooling2d(OnnxGraph& g,
                                                       const GlobalAveragePooling2D& layer,
                                                       const OnnxCall& c) {
  return {g.node("ReduceMean", c.prefix, {c.inputs[0]},
                 {{"axes", {}, {}, {}, {1, 2}}, {"keepdims", {}, layer.keepdims() ? 1 : 0}})};
}

std::vector<std::string> emit_global_max_pooling2d(OnnxGraph& g, const GlobalMaxPooling2D& layer,
                                                   const OnnxCall& c) {
  return {g.node("ReduceMax", c.prefix, {c.inputs[0]},
                 {{"axes", {}, {}, {}, {1, 2}}, {"keepdims", {}, layer.keepdims() ? 1 : 0}})};
}

std::vector<std::string> emit_zero_padding2d(OnnxGraph& g, const ZeroPadding2D& layer,
                                             const OnnxCall& c) {
  const std::string pads = g.int64_initializer(
      c.prefix + "/pads", {8},
      {0, layer.top(), layer.left(), 0, 0, layer.bottom(), layer.right(), 0});
  return {g.node("Pad", c.prefix, {c.inputs[0], pads})};
}

std::vector<std::string> emit_reshape(OnnxGraph& g, const Reshape& layer, const OnnxCall& c) {
  std::vector<int64_t> dims = layer.output_shape().dims();
  dims[0] = -1;  // the batch
  const std::string shape =
      g.int64_initializer(c.prefix + "/shape", {static_cast<int64_t>(dims.size())}, dims);
  return {g.node("Reshape", c.prefix, {c.inputs[0], shape})};
}

std::string emit_channels_last_batch_norm(OnnxGraph& g, const std::string& x, int64_t rank,
                                          const std::vector<std::string>& params,
                                          const std::vector<Attribute>& attributes,
                                          const std::string& prefix) {
  // (N, d1, ..., C) -> (N, C, d1, ...) and back.
  std::vector<int64_t> in{0, rank - 1}, out{0};
  for (int64_t a = 1; a < rank - 1; ++a) in.push_back(a);
  for (int64_t a = 2; a < rank; ++a) out.push_back(a);
  out.push_back(1);
  std::vector<std::string> inputs{
      g.node("Transpose", prefix + "/to_channels_first", {x}, {{"perm", {}, {}, {}, in}})};
  inputs.insert(inputs.end(), params.begin(), params.end());
  const std::string y = g.node("BatchNormalization", prefix, inputs, attributes);
  return g.node("Transpose", prefix + "/to_channels_last", {y}, {{"perm", {}, {}, {}, out}});
}

}  // namespace keel::onnx
