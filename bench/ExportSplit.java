import ai.djl.ndarray.NDManager;
import maetok4j.data.DataLoader;
import maetok4j.data.Dataset;
import maetok4j.data.Datasets;
import maetok4j.data.ImageTensors;
import maetok4j.tensor.Safetensors;

import java.nio.file.Path;
import java.util.Map;

/**
 * Writes a dataset's training split and held-out images, as a training run with the same {@code val_images} and
 * {@code global_seed} splits them, as ADM center crops to two safetensors files (key {@code images}) for
 * bench/maetok_torch.py. From the repository root, after the jar is built:
 * <pre>
 *   java -Dai.djl.offline=true -cp cli/target/maetok.jar bench/ExportSplit.java emoji-noto-64 32 128 0 /tmp/split
 * </pre>
 */
public class ExportSplit {

    public static void main(String[] args) {
        if (args.length != 5) {
            System.err.println("usage: ExportSplit DATASET SIZE VAL_IMAGES SEED OUT_DIR");
            System.exit(2);
        }
        int size = Integer.parseInt(args[1]);
        int val = Integer.parseInt(args[2]);
        Path out = Path.of(args[4]);
        try (NDManager manager = NDManager.newBaseManager()) {
            Dataset data = Datasets.open(args[0], true, false, 0, null);
            int[][] split = DataLoader.split(data.size(), (double) val / data.size(), Long.parseLong(args[3]));
            out.toFile().mkdirs();
            Safetensors.write(out.resolve("train.safetensors"), Map.of("images", ImageTensors.load(data, split[0], size, manager)), Map.of());
            Safetensors.write(out.resolve("val.safetensors"), Map.of("images", ImageTensors.load(data, split[1], size, manager)), Map.of());
            System.out.println(split[0].length + " training and " + split[1].length + " held-out images in " + out);
        }
    }
}
