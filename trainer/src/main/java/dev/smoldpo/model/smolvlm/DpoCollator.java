package dev.smoldpo.model.smolvlm;

import static dev.smoldpo.model.smolvlm.SmolVlmInputs.*;

import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.onnx.TensorData;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns tokenised preference pairs and their preprocessed image tiles into the graph inputs of
 * {@link SmolVlmInputs}, in either {@link DpoLayout}.
 */
public final class DpoCollator {
    /** An image's tiles: [tiles, 3, S, S] floats and an optional per-pixel mask [tiles, S, S]. */
    public record Tiles(int count, float[] pixels, boolean[] pixelMask) {
        public static final Tiles NONE = new Tiles(0, new float[0], null);
    }

    /** One pair: the prompt already holds image_seq_len × tiles image tokens; completions end with the end-of-utterance token. */
    public record Pair(long[] prompt, long[] chosen, long[] rejected, Tiles image) {}

    private final ModelConfig config;
    private final TileInputs tiles;
    private final int imageSeqLen;

    public DpoCollator(ModelConfig config) {
        this.config = config;
        this.tiles = new TileInputs(config);
        this.imageSeqLen = config.imageSeqLen();
    }

    /** One row of tokens and what it scores. */
    private record Row(long[] ids, long[] positions, long[] segments, List<long[]> scored, int imageIndex) {}

    /** The graph inputs (without β and reference log-probs), by name. */
    public Map<String, TensorData> collate(List<Pair> pairs, DpoLayout layout) {
        if (pairs.isEmpty()) {
            throw new IllegalArgumentException("empty batch");
        }
        List<Row> rows = new ArrayList<>();
        List<Tiles> images = new ArrayList<>();
        List<int[]> pairRows = new ArrayList<>();
        for (int i = 0; i < pairs.size(); i++) {
            Pair p = pairs.get(i);
            if (p.chosen().length == 0 || p.rejected().length == 0) {
                throw new IllegalArgumentException("a completion is empty");
            }
            tiles.requireModelTileShape(p.image(), "pair " + i);
            Tiles kept = tiles.dropPaddingTiles(p.image());
            if (layout == DpoLayout.SHARED_PREFIX) {
                images.add(kept);
                pairRows.add(new int[] {rows.size(), rows.size()});
                rows.add(sharedPrefixRow(p, images.size() - 1));
            } else {
                images.add(kept);
                int chosenRow = rows.size();
                rows.add(singleRow(p.prompt(), p.chosen(), 2, images.size() - 1));
                images.add(kept); // TRL's way: each row carries its own copy of the image
                rows.add(singleRow(p.prompt(), p.rejected(), 3, images.size() - 1));
                pairRows.add(new int[] {chosenRow, chosenRow + 1});
            }
        }
        return tensors(rows, images, pairRows);
    }

    private Row sharedPrefixRow(Pair p, int image) {
        int n = p.prompt().length;
        int c = p.chosen().length;
        int r = p.rejected().length;
        long[] ids = new long[n + c + r];
        long[] pos = new long[n + c + r];
        long[] seg = new long[n + c + r];
        List<long[]> scored = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            ids[i] = p.prompt()[i];
            pos[i] = i;
            seg[i] = 1;
        }
        for (int j = 0; j < c; j++) {
            ids[n + j] = p.chosen()[j];
            pos[n + j] = n + j;
            seg[n + j] = 2;
            scored.add(new long[] {j == 0 ? n - 1 : n + j - 1, p.chosen()[j], 2});
        }
        for (int j = 0; j < r; j++) {
            ids[n + c + j] = p.rejected()[j];
            pos[n + c + j] = n + j;
            seg[n + c + j] = 3;
            // the first rejected token is predicted from the end of the prompt, not of the chosen part
            scored.add(new long[] {j == 0 ? n - 1 : n + c + j - 1, p.rejected()[j], 3});
        }
        return new Row(ids, pos, seg, scored, image);
    }

    private Row singleRow(long[] prompt, long[] completion, int segment, int image) {
        int n = prompt.length;
        int c = completion.length;
        long[] ids = new long[n + c];
        long[] pos = new long[n + c];
        long[] seg = new long[n + c];
        List<long[]> scored = new ArrayList<>();
        for (int i = 0; i < n + c; i++) {
            ids[i] = i < n ? prompt[i] : completion[i - n];
            pos[i] = i;
            seg[i] = i < n ? 1 : segment;
            if (i >= n) {
                scored.add(new long[] {i - 1, completion[i - n], segment});
            }
        }
        return new Row(ids, pos, seg, scored, image);
    }

    private Map<String, TensorData> tensors(List<Row> rows, List<Tiles> images, List<int[]> pairRows) {
        int nRows = rows.size();
        int t = rows.stream().mapToInt(r -> r.ids().length).max().orElseThrow();
        int k = rows.stream().mapToInt(r -> r.scored().size()).max().orElseThrow();
        long imageToken = config.imageTokenId();

        long[] ids = new long[nRows * t];
        long[] pos = new long[nRows * t];
        long[] seg = new long[nRows * t];
        long[] merge = new long[nRows * t];
        long[] targetIndex = new long[nRows * k];
        long[] targetIds = new long[nRows * k];
        float[] chosenWeight = new float[nRows * k];
        float[] rejectedWeight = new float[nRows * k];
        int[] firstTile = TileInputs.firstTiles(images);
        long imageBase = (long) nRows * t;
        for (int r = 0; r < nRows; r++) {
            Row row = rows.get(r);
            int imageTokens = 0;
            for (int i = 0; i < t; i++) {
                int at = r * t + i;
                merge[at] = at;
                if (i >= row.ids().length) {
                    continue;
                }
                ids[at] = row.ids()[i];
                pos[at] = row.positions()[i];
                seg[at] = row.segments()[i];
                if (row.ids()[i] == imageToken) {
                    merge[at] = imageBase + (long) firstTile[row.imageIndex()] * imageSeqLen + imageTokens;
                    imageTokens++;
                }
            }
            int expected = images.get(row.imageIndex()).count() * imageSeqLen;
            if (imageTokens != expected) {
                throw new IllegalArgumentException("row " + r + " has " + imageTokens + " image tokens but its image gives "
                        + images.get(row.imageIndex()).count() + " tiles x " + imageSeqLen + " = " + expected);
            }
            for (int j = 0; j < row.scored().size(); j++) {
                long[] s = row.scored().get(j);
                targetIndex[r * k + j] = (long) r * t + s[0];
                targetIds[r * k + j] = s[1];
                chosenWeight[r * k + j] = s[2] == 2 ? 1f : 0f;
                rejectedWeight[r * k + j] = s[2] == 3 ? 1f : 0f;
            }
        }
        float[] chosenRows = new float[pairRows.size() * nRows];
        float[] rejectedRows = new float[pairRows.size() * nRows];
        for (int p = 0; p < pairRows.size(); p++) {
            chosenRows[p * nRows + pairRows.get(p)[0]] = 1f;
            rejectedRows[p * nRows + pairRows.get(p)[1]] = 1f;
        }
        Map<String, TensorData> out = new LinkedHashMap<>();
        tiles.put(images, out);
        out.put(INPUT_IDS, TensorData.longs(new long[] {nRows, t}, ids));
        out.put(POSITION_IDS, TensorData.longs(new long[] {nRows, t}, pos));
        out.put(SEGMENT_IDS, TensorData.longs(new long[] {nRows, t}, seg));
        out.put(MERGE_INDEX, TensorData.longs(new long[] {nRows, t}, merge));
        out.put(TARGET_INDEX, TensorData.longs(new long[] {nRows, k}, targetIndex));
        out.put(TARGET_IDS, TensorData.longs(new long[] {nRows, k}, targetIds));
        out.put(CHOSEN_WEIGHT, floats(chosenWeight, nRows, k));
        out.put(REJECTED_WEIGHT, floats(rejectedWeight, nRows, k));
        out.put(CHOSEN_ROWS, floats(chosenRows, pairRows.size(), nRows));
        out.put(REJECTED_ROWS, floats(rejectedRows, pairRows.size(), nRows));
        return out;
    }

    private static TensorData floats(float[] values, long... dims) {
        return TileInputs.floats(values, dims);
    }
}
