package dev.smoldpo.data.text;

import java.util.List;

/**
 * Expands each {@code <image>} of a prompt into the image's token string, as Idefics3Processor does
 * (transformers {@code processing_idefics3.py}, {@code get_image_prompt_string}):
 *
 * <ul>
 *   <li>split image, {@code rows x cols} tiles: for each row r = 1..rows, for each column c = 1..cols,
 *       {@code <fake_token_around_image><row_r_col_c>} + {@code <image>} x L; then {@code \n} after each
 *       row; then {@code \n<fake_token_around_image><global-img>} + {@code <image>} x L +
 *       {@code <fake_token_around_image>};
 *   <li>single tile ({@code rows = cols = 0}): {@code <fake_token_around_image><global-img>} +
 *       {@code <image>} x L + {@code <fake_token_around_image>}.
 * </ul>
 *
 * The token names are SmolVLM's (the demo tokenizer uses the same ones).
 */
public final class PromptExpander {
    public static final String IMAGE = "<image>";
    public static final String FAKE_TOKEN_AROUND_IMAGE = "<fake_token_around_image>";
    public static final String GLOBAL_IMAGE = "<global-img>";

    private PromptExpander() {}

    /** The tile grid of one image as the image processor reports it; (0, 0) = only the global image. */
    public record TileGrid(int rows, int cols) {
        public TileGrid {
            if (rows < 0 || cols < 0 || (rows == 0) != (cols == 0)) {
                throw new IllegalArgumentException("tile grid must be rows, cols >= 1, or 0 x 0 for a single image: "
                        + rows + " x " + cols);
            }
        }

        /** Only the global image (the image fits one tile, or splitting is off). */
        public static TileGrid single() {
            return new TileGrid(0, 0);
        }

        /** Number of image tiles fed to the vision tower: rows*cols (+1 global when split). */
        public int tiles() {
            return rows == 0 ? 1 : rows * cols + 1;
        }
    }

    /** {@code <row_r_col_c>} with 1-based r, c. */
    public static String rowColToken(int row, int col) {
        return "<row_" + row + "_col_" + col + ">";
    }

    /** The string that replaces one {@code <image>} for an image cut into {@code grid}. */
    public static String imageString(TileGrid grid, int imageSeqLen) {
        if (imageSeqLen < 1) throw new IllegalArgumentException("image_seq_len must be >= 1: " + imageSeqLen);
        String run = IMAGE.repeat(imageSeqLen);
        StringBuilder sb = new StringBuilder();
        if (grid.rows() == 0) {
            return sb.append(FAKE_TOKEN_AROUND_IMAGE).append(GLOBAL_IMAGE).append(run)
                    .append(FAKE_TOKEN_AROUND_IMAGE).toString();
        }
        for (int r = 1; r <= grid.rows(); r++) {
            for (int c = 1; c <= grid.cols(); c++) {
                sb.append(FAKE_TOKEN_AROUND_IMAGE).append(rowColToken(r, c)).append(run);
            }
            sb.append('\n');
        }
        return sb.append('\n').append(FAKE_TOKEN_AROUND_IMAGE).append(GLOBAL_IMAGE).append(run)
                .append(FAKE_TOKEN_AROUND_IMAGE).toString();
    }

    /**
     * Replaces the i-th {@code <image>} of {@code prompt} by {@link #imageString} of {@code grids[i]}.
     *
     * @throws IllegalArgumentException when the number of {@code <image>} differs from the number of grids
     */
    public static String expand(String prompt, List<TileGrid> grids, int imageSeqLen) {
        int count = countImages(prompt);
        if (count != grids.size()) {
            throw new IllegalArgumentException("the prompt has " + count + " " + IMAGE + " but " + grids.size()
                    + " image(s) were given");
        }
        StringBuilder sb = new StringBuilder(prompt.length() + count * (imageSeqLen + 4) * IMAGE.length());
        int from = 0;
        for (TileGrid g : grids) {
            int at = prompt.indexOf(IMAGE, from);
            sb.append(prompt, from, at).append(imageString(g, imageSeqLen));
            from = at + IMAGE.length();
        }
        return sb.append(prompt, from, prompt.length()).toString();
    }

    /** {@link #expand(String, List, int)} for a prompt with one image. */
    public static String expand(String prompt, TileGrid grid, int imageSeqLen) {
        return expand(prompt, List.of(grid), imageSeqLen);
    }

    /** Number of {@code <image>} occurrences in {@code text}. */
    public static int countImages(String text) {
        int n = 0;
        for (int i = text.indexOf(IMAGE); i >= 0; i = text.indexOf(IMAGE, i + IMAGE.length())) n++;
        return n;
    }
}
