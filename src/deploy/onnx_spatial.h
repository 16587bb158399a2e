// ONNX emitters of the 2-D spatial layers (onnx_emitters.h), opset 13. keel's tensors are NHWC
// (Keras's channels_last) and stay so at the graph's interface and between layers; ONNX's Conv,
// MaxPool and AveragePool are NCHW, so each of them sits between two Transposes (perm [0,3,1,2]
// in, [0,2,3,1] out; ONNX Runtime's optimizer cancels the back-to-back pairs of a chain).
//
//  * Conv2D -> Conv: kernel (kh, kw, c_in/groups, c_out) reordered to ONNX's (c_out,
//    c_in/groups, kh, kw); strides, dilations, group; 'same' as explicit pads by TensorFlow's rule
//    (the odd pixel after: bottom / right), which ONNX's SAME_UPPER also is but only without
//    dilation, so keel always writes the pads. Then the activation.
//  * DepthwiseConv2D -> Conv with group = channels, kernel (kh, kw, c, m) -> (c·m, 1, kh, kw).
//  * MaxPooling2D -> MaxPool (padded cells never win); AveragePooling2D -> AveragePool with
//    count_include_pad=0 (TF's 'same' averages over the cells inside the input).
//  * GlobalAveragePooling2D / GlobalMaxPooling2D -> ReduceMean / ReduceMax over axes 1, 2 of the
//    NHWC tensor (keepdims as the layer's).
//  * ZeroPadding2D -> Pad (constant 0) on the H and W axes; Reshape -> Reshape to (-1, dims...).
//  * BatchNormalization over the last axis of a rank-3+ input -> Transpose to channels-first,
//    BatchNormalization, Transpose back.
#pragma once

#include <string>
#include <vector>

#include "keel/layers/batch_normalization.h"
#include "keel/layers/conv2d.h"
#include "keel/layers/depthwise_conv2d.h"
#include "keel/layers/global_pooling2d.h"
#include "keel/layers/pooling2d.h"
#include "keel/layers/reshape.h"
#include "keel/layers/zero_padding2d.h"
#include "onnx_emitters.h"
#include "onnx_graph.h"

namespace keel::onnx {

std::vector<std::string> emit_conv2d(OnnxGraph& g, const Conv2D& layer, const OnnxCall& c);
std::vector<std::string> emit_depthwise_conv2d(OnnxGraph& g, const DepthwiseConv2D& layer,
                                               const OnnxCall& c);
std::vector<std::string> emit_max_pooling2d(OnnxGraph& g, const MaxPooling2D& layer,
                                            const OnnxCall& c);
std::vector<std::string> emit_average_pooling2d(OnnxGraph& g, const AveragePooling2D& layer,
                                                const OnnxCall& c);
std::vector<std::string> emit_global_average_pooling2d(OnnxGraph& g,
                                                       const GlobalAveragePooling2D& layer,
                                                       const OnnxCall& c);
std::vector<std::string> emit_global_max_pooling2d(OnnxGraph& g, const GlobalMaxPooling2D& layer,
                                                   const OnnxCall& c);
std::vector<std::string> emit_zero_padding2d(OnnxGraph& g, const ZeroPadding2D& layer,
                                             const OnnxCall& c);
std::vector<std::string> emit_reshape(OnnxGraph& g, const Reshape& layer, const OnnxCall& c);
// BatchNormalization over the channels of an NHWC (or any channels-last) input.
std::string emit_channels_last_batch_norm(OnnxGraph& g, const std::string& x, int64_t rank,
                                          const std::vector<std::string>& params,
                                          const std::vector<Attribute>& attributes,
                                          const std::string& prefix);

}  // namespace keel::onnx
