package maetok4j.analysis;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import maetok4j.tensor.OwnedArrays;

/**
 * Per-dimension standardisation fitted on training rows, as scikit-learn's {@code StandardScaler}: population
 * std (n normalised), and a dimension with zero variance is centred but not scaled.
 */
public final class Standardizer {

    private final double[] mean;
    private final double[] scale;

    private Standardizer(double[] mean, double[] scale) {
        this.mean = mean;
        this.scale = scale;
    }

    /** Fits on rows [n, d], in float64. */
    public static Standardizer fit(NDArray rows) {
        Shape s = rows.getShape();
        if (s.dimension() != 2 || s.get(0) < 1) {
            throw new IllegalArgumentException("expected rows [n, d] with n ≥ 1, got " + s);
        }
        try (NDManager tmp = rows.getManager().newSubManager()) {
            NDArray x = rows.toType(DataType.FLOAT64, true); // [n, d]
            x.attach(tmp);
            NDArray m = x.mean(new int[] {0});
            double[] mean = m.toDoubleArray();
            double[] var = x.sub(m).square().mean(new int[] {0}).toDoubleArray();
            double[] scale = new double[var.length];
            for (int j = 0; j < var.length; j++) {
                scale[j] = var[j] > 0 ? Math.sqrt(var[j]) : 1;
            }
            return new Standardizer(mean, scale);
        }
    }

    /** (rows − mean) / std: [n, d] in the rows' type, owned by the rows' manager. */
    public NDArray transform(NDArray rows) {
        Shape s = rows.getShape();
        if (s.dimension() != 2 || s.get(1) != mean.length) {
            throw new IllegalArgumentException("expected rows [n, " + mean.length + "], got " + s);
        }
        NDManager owner = rows.getManager();
        try (NDManager tmp = owner.newSubManager()) {
            NDArray x = rows.toType(DataType.FLOAT64, true);
            x.attach(tmp);
            NDArray out = x.sub(OwnedArrays.of(tmp, mean)).div(OwnedArrays.of(tmp, scale)).toType(rows.getDataType(), false);
            out.attach(owner);
            return out;
        }
    }

    public double[] mean() {
        return mean.clone();
    }

    public double[] scale() {
        return scale.clone();
    }
}
