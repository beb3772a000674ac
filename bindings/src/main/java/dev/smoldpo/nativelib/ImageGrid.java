package dev.smoldpo.nativelib;

/**
 * What the processor did with one image ({@code smoldpo_image_plan}).
 *
 * @param rows          tile rows; 0 when the image fits one tile (then only the global image), and
 *                      always without splitting (the image squared to the tile size is the one tile)
 * @param cols          tile columns
 * @param tileCount     rows * cols + 1; the global image is the last tile
 * @param firstTile     index of the image's first tile in the batch output
 * @param resizedWidth  width after the longest-edge resize
 * @param resizedHeight height after the longest-edge resize
 * @param splitWidth    width after the resize to tile multiples (the tile size without splitting)
 * @param splitHeight   height after the resize to tile multiples (the tile size without splitting)
 */
public record ImageGrid(int rows, int cols, int tileCount, long firstTile, int resizedWidth, int resizedHeight,
                        int splitWidth, int splitHeight) {}
