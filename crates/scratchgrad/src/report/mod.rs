//! Pictures of a training run: loss and accuracy curves (SVG, drawn with plotters; the text
//! is left to the SVG viewer, so no fonts are needed), a confusion matrix and grids of digits
//! with their captions (PNG, lettered with a built-in 8x8 bitmap font, so no system fonts are
//! needed either), and for convolutional networks their filters and feature maps. Never here:
//! deciding file names or printing.

mod curves;
mod maps;
mod pictures;
mod text;

pub use curves::curves_svg;
pub use maps::{feature_maps_png, filters_png};
pub use pictures::{confusion_png, digit_grid, encode_png, Tile};
