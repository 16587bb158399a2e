// Sequential: the chain-shaped Model (keras.Sequential).
//
//   keel::Sequential model{Flatten({.input_shape = {28, 28}}), Dense(300, {.activation = "elu"}),
//                          Dense(10, {.activation = "softmax"})};
//
// Unlike a functional chain, model.layers holds no InputLayer (as in Keras), and summary() prints
// no input row. A Sequential converts to Model by move (it adds no state).
#pragma once

#include <concepts>
#include <memory>
#include <string>

#include "keel/model/model.h"

namespace keel {

class Sequential : public Model {
 public:
  // keras.Sequential([...]): Sequential model{Flatten({.input_shape = {28, 28}}), Dense(10)};
  template <std::derived_from<Layer>... L>
  explicit Sequential(L... layers) : Model(SequentialTag{}, {}) {
    (add(std::move(layers)), ...);
  }
  // An empty model with a given name (keras.Sequential(name=...)); does not take a default name.
  explicit Sequential(std::string name);

  template <std::derived_from<Layer> L>
  void add(L layer) {
    append_layer(std::make_unique<L>(std::move(layer)));
  }
  void add(std::unique_ptr<Layer> layer) { append_layer(std::move(layer)); }
  // A layer also held elsewhere (the Python front end's layer objects).
  void add(std::shared_ptr<Layer> layer) { append_layer(std::move(layer)); }
};

}  // namespace keel
