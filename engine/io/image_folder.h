#pragma once
// Folders of images (PNG, JPEG, binary PGM/PPM: image_decode.h), resized to one shape, grey or
// RGB. Files named .bmp, .gif or .tga are listed too, so that they are refused with a message
// instead of being skipped without one.
//
// Layout: DIR/train and DIR/test give the two splits; without them every image under DIR is
// used, and every tenth file in sorted order (indices 9, 19, ...) forms the test split, which
// keeps both splits' class mix alike. Inside a split, subfolders are classes labelled 0, 1, ...
// in sorted name order (the test split uses the train split's names); with no subfolders every
// image has label 0.
#include <string>

#include "engine/io/dataset.h"

namespace gm::io {

// Decodes one image file to uint8 [channels, height, width], converting to grey or RGB and
// resizing (stb_image_resize's default filter) when the file's size differs. Throws IoError
// naming the file when it cannot be decoded, and one naming the size when `shape` is not
// something check_image_size (dataset.h) accepts.
Tensor read_image(const std::string& path, const FolderOptions& shape);

DataSplits read_image_folder(const std::string& dir, const FolderOptions& shape);

}  // namespace gm::io
