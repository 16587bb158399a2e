// The functional models of tools/golden/functional_keras.py, built the same way in C++ (same
// layers, same call order, so default names match when reset_default_names() runs first).
#pragma once

#include "keel/layers/input_layer.h"
#include "keel/layers/layers.h"
#include "keel/layers/merge.h"
#include "keel/model/model.h"

// Keras-style options leave the other fields at their defaults on purpose.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace keel::testing {

inline Model residual_mlp() {
  KerasTensor x = Input({784});
  KerasTensor h = Dense(128)(x);
  for (int block = 0; block < 2; ++block) {
    KerasTensor b = Dense(128, {.activation = "elu"})(h);
    b = Dense(128)(b);
    h = Add()({h, b});
  }
  return Model(x, Dense(10, {.activation = "softmax"})(h));
}

inline Model residual_mlp_bn() {
  KerasTensor x = Input({784});
  KerasTensor h = Dense(128)(x);
  for (int block = 0; block < 2; ++block) {
    KerasTensor b = Activation("elu")(BatchNormalization()(Dense(128)(h)));
    b = BatchNormalization()(Dense(128)(b));
    h = Add()({h, b});
  }
  return Model(x, Dense(10, {.activation = "softmax"})(h));
}

inline Model functional_chain() {
  KerasTensor x = Input({28, 28});
  KerasTensor h = Flatten()(x);
  h = Dense(300, {.activation = "elu", .kernel_initializer = "he_normal"})(h);
  return Model(x, Dense(10, {.activation = "softmax"})(h));
}

inline Model two_input_concat() {
  KerasTensor a = Input({784}), b = Input({32});
  KerasTensor ha = Dense(64, {.activation = "relu"})(a);
  KerasTensor hb = Dense(16, {.activation = "relu"})(b);
  KerasTensor c = Concatenate()({ha, hb});
  return Model({a, b}, {Dense(10, {.activation = "softmax"})(c)});
}

inline Model shared_layer() {
  KerasTensor x1 = Input({32}), x2 = Input({32});
  auto shared = keel::shared(Dense(16, {.activation = "tanh"}));
  KerasTensor h = Concatenate()({(*shared)(x1), (*shared)(x2)});
  return Model({x1, x2}, {Dense(1)(h)});
}

inline Model merge_zoo() {
  KerasTensor a = Input({8}), b = Input({8});
  KerasTensor d1 = Dense(8)(a), d2 = Dense(8)(b);
  KerasTensor s = Subtract()({d1, d2}), m = Multiply()({d1, d2}), av = Average()({d1, d2});
  KerasTensor mx = Maximum()({d1, d2}), mn = Minimum()({d1, d2});
  KerasTensor c = Concatenate()({s, m, av, mx, mn});
  return Model({a, b}, {Dense(3)(c), s});
}

inline Model two_outputs() {
  KerasTensor x = Input({20});
  KerasTensor h = Dense(16, {.activation = "relu"})(x);
  return Model({x}, {Dense(3, {.activation = "softmax", .name = "cls"})(h), Dense(1, {.name = "reg"})(h)});
}

struct FunctionalCase {
  const char* name;  // the fixture's stem in tests/data/functional
  Model (*make)();
};

inline const FunctionalCase kFunctionalCases[] = {
    {"functional_chain", functional_chain}, {"residual_mlp", residual_mlp},
    {"residual_mlp_bn", residual_mlp_bn},   {"two_input_concat", two_input_concat},
    {"shared_layer", shared_layer},         {"merge_zoo", merge_zoo},
    {"two_outputs", two_outputs},
};

}  // namespace keel::testing

#pragma GCC diagnostic pop
