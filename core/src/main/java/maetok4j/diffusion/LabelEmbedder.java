package maetok4j.diffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import maetok4j.nn.Init;
import maetok4j.nn.Module;
import maetok4j.nn.Parameter;

/**
 * Class labels to vectors: {@code embedding_table} [classes (+1), hidden]. The extra row is the null label
 * {@code num_classes}, which classifier-free guidance conditions on.
 */
public final class LabelEmbedder extends Module {

    /** {@code nn.Embedding}: one parameter, {@code weight} [rows, hidden]. */
    public static final class Embedding extends Module {
        public final Parameter weight;

        Embedding(int rows, int hidden) {
            weight = parameter("weight", new Shape(rows, hidden), Init.normal(0.02));
        }
    }

    public final Embedding embeddingTable;
    private final int rows;

    public LabelEmbedder(int rows, int hidden) {
        this.rows = rows;
        embeddingTable = child("embedding_table", new Embedding(rows, hidden));
    }

    /** labels [B] int64 in [0, rows) → [B, hidden]. */
    public NDArray forward(NDArray labels) {
        long[] l = labels.toLongArray();
        for (long v : l) {
            if (v < 0 || v >= rows) {
                throw new IllegalArgumentException("label " + v + " outside the table's " + rows + " rows");
            }
        }
        return embeddingTable.weight.array().get(labels);
    }
}
