// Trains the seed's model (Hands-On ML ch. 11.1.3) for one epoch on the first 6,000 Fashion-MNIST
// training images with keel as an installed package, then evaluates on the test set. Exits
// non-zero unless the model learned (test accuracy above 0.70; a model that does not train stays
// near 0.10).
#include <iostream>

#include "keel/io/fashion_mnist.h"
#include "keel/layers/layers.h"
#include "keel/model/sequential.h"

int main() {
  const keel::FashionMnist data = keel::load_fashion_mnist(keel::default_fashion_mnist_dir());
  keel::Sequential model(
      keel::Flatten({.input_shape = {28, 28}}),
      keel::BatchNormalization(),
      keel::Dense(300, {.activation = "elu", .kernel_initializer = "he_normal"}),
      keel::BatchNormalization(),
      keel::Dense(100, {.activation = "elu", .kernel_initializer = "he_normal"}),
      keel::BatchNormalization(),
      keel::Dense(10, {.activation = "softmax"}));
  model.compile({.loss = "sparse_categorical_crossentropy", .metrics = {"accuracy"}});
  const keel::DataView train = keel::fashion_mnist_view(data, keel::FashionMnistSplit::kTrain);
  model.fit(train.slice(0, 6000), {.epochs = 1, .verbose = 0});
  const keel::Logs logs =
      model.evaluate(keel::fashion_mnist_view(data, keel::FashionMnistSplit::kTest), {.verbose = 0});
  const double accuracy = logs.get("accuracy").value_or(0.0);
  std::cout << "test accuracy after one epoch on 6,000 images: " << accuracy << "\n";
  return accuracy > 0.70 ? 0 : 1;
}
