// ONNX emitters of the sequence layers (onnx_emitters.h), opset 13:
//
//  * SimpleRNN / LSTM / GRU -> one ONNX RNN / LSTM / GRU node over the time-major input
//    (Transpose to (T, batch, F)). Weights: W = kernelᵀ and R = recurrent_kernelᵀ per direction
//    with the gate blocks in ONNX's order (LSTM: Keras [i f c o] -> ONNX [i o f c]; GRU [z r h] and
//    the single RNN block are the same), B = [input bias, recurrent bias] (zeros where Keras has
//    only one bias); GRU reset_after=True is linear_before_reset=1. Activations: ONNX's names for
//    the Keras ones (f = recurrent_activation, g = h = activation); one without an ONNX RNN
//    activation of the same formula (linear, selu, gelu, ...) is a clear error.
//    go_backwards is direction "reverse"; its sequence output is reversed in time (Slice step -1),
//    since Keras returns it in processing order and ONNX in input order.
//  * Bidirectional -> one node with direction "bidirectional" (ONNX's reverse direction already
//    aligns the backward outputs in time, as Keras's reversal does), split per direction and
//    merged: Concat on the last axis, Add, Mul, Add then Div by 2; merge_mode None: two outputs.
//  * Embedding -> Cast to int64 (truncating, as Keras's int32 cast) then Gather.
//  * LayerNormalization -> ReduceMean / Sub / Mul / ReduceMean / Add ε / Sqrt / Div, then gamma
//    and beta (opset 13 has no LayerNormalization).
#pragma once

#include <string>
#include <vector>

#include "keel/layers/bidirectional.h"
#include "keel/layers/embedding.h"
#include "keel/layers/layer_normalization.h"
#include "keel/layers/recurrent.h"
#include "onnx_emitters.h"
#include "onnx_graph.h"

namespace keel::onnx {

std::vector<std::string> emit_recurrent(OnnxGraph& g, const Recurrent& layer, const OnnxCall& c);
std::vector<std::string> emit_bidirectional(OnnxGraph& g, const Bidirectional& layer,
                                            const OnnxCall& c);
std::vector<std::string> emit_embedding(OnnxGraph& g, const Embedding& layer, const OnnxCall& c);
std::vector<std::string> emit_layer_normalization(OnnxGraph& g, const LayerNormalization& layer,
                                                  const OnnxCall& c);

}  // namespace keel::onnx
