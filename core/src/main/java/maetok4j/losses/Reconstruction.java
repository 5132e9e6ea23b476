package maetok4j.losses;

import ai.djl.ndarray.NDArray;

/** Pixel reconstruction losses: mean squared (the reference's default 'l2') or mean absolute error. */
public enum Reconstruction {
    L2, L1;

    public static Reconstruction parse(String name) {
        switch (name) {
            case "l2": case "mse": return L2;
            case "l1": return L1;
            default: throw new IllegalArgumentException("unknown reconstruction loss '" + name + "' (l2, l1)");
        }
    }

    public NDArray loss(NDArray target, NDArray prediction) {
        NDArray d = prediction.sub(target);
        return this == L2 ? d.square().mean() : d.abs().mean();
    }
}
