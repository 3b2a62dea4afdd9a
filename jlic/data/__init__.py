"""Image data: folders, scikit-image samples and TFDS as grain sources; crops, flips, batches."""

from jlic.data.image import ImageReadError, read_image, to_rgb8
from jlic.data.pipeline import eval_images, get_source, train_dataset, train_iterator

__all__ = ["ImageReadError", "eval_images", "get_source", "read_image", "to_rgb8", "train_dataset",
           "train_iterator"]
