package maetok4j.data;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import maetok4j.tensor.Safetensors;
import maetok4j.tensor.TensorFileException;
import maetok4j.tensor.TensorInfo;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The images a command works on, named as a user names them: image files, folders of images, or
 * safetensors files with {@code images} [B, 3, H, W] float32 in [-1, 1]. Files are decoded as they are
 * batched; images of another size are brought to the model's size with the reference evaluation's ADM
 * center crop (or rejected, with {@code resize = false}).
 */
public final class ImageSource {

    /** One image: a file, or row {@code index} of a tensor file. */
    public record Item(Path file, int index, String name) {}

    private final List<Item> items;
    private final int imageSize;
    private final boolean resize;

    private ImageSource(List<Item> items, int imageSize, boolean resize) {
        this.items = items;
        this.imageSize = imageSize;
        this.resize = resize;
    }

    /** Resolves the inputs (checking that they exist and that tensor files have the right layout) without decoding images. */
    public static ImageSource open(List<Path> inputs, int imageSize, boolean resize) {
        List<Item> items = new ArrayList<>();
        for (Path in : inputs) {
            if (Files.isDirectory(in)) {
                List<Path> files = ImageFiles.list(in);
                if (files.isEmpty()) {
                    throw new ImageFileException(in + ": no image files (" + String.join(", ", ImageFiles.EXTENSIONS) + ")");
                }
                for (Path f : files) {
                    items.add(new Item(f, -1, stem(in.relativize(f).toString())));
                }
            } else if (!Files.exists(in)) {
                throw new ImageFileException(in + ": no such file or folder");
            } else if (in.getFileName().toString().endsWith(".safetensors")) {
                long n = checkTensorFile(in, imageSize, resize);
                for (int i = 0; i < n; i++) {
                    items.add(new Item(in, i, String.format("%s-%06d", stem(in.getFileName().toString()), i)));
                }
            } else {
                items.add(new Item(in, -1, stem(in.getFileName().toString())));
            }
        }
        if (items.isEmpty()) {
            throw new ImageFileException("no input images");
        }
        return new ImageSource(List.copyOf(items), imageSize, resize);
    }

    private static long checkTensorFile(Path file, int imageSize, boolean resize) {
        try (Safetensors st = Safetensors.open(file)) {
            if (!st.tensors().containsKey("images")) {
                throw new TensorFileException(file + ": no tensor 'images' (has: " + String.join(", ", st.tensors().keySet()) + ")");
            }
            TensorInfo t = st.tensors().get("images");
            long[] s = t.shape();
            if (s.length != 4 || s[1] != 3) {
                throw new TensorFileException(file + ": 'images' must be [B, 3, H, W], got " + Arrays.toString(s));
            }
            if (!t.dtype().equals("F32") && !t.dtype().equals("F16") && !t.dtype().equals("BF16")) {
                throw new TensorFileException(file + ": 'images' must be float, got " + t.dtype());
            }
            if (imageSize > 0 && (s[2] != imageSize || s[3] != imageSize)) {
                throw new TensorFileException(file + ": 'images' are " + s[2] + "x" + s[3] + ", the model takes "
                        + imageSize + "x" + imageSize + (resize ? " (tensor inputs are not resized)" : ""));
            }
            return s[0];
        }
    }

    /**
     * The side of the first input's images, for sets compared at their own size: a tensor file's H (its images
     * must be square), or the first image file's side; a non-square picture is an error naming the file.
     */
    public static int firstImageSize(List<Path> inputs) {
        ImageSource probe = open(inputs, -1, true);
        Item first = probe.items.get(0);
        long h;
        long w;
        if (first.index() >= 0) {
            try (Safetensors st = Safetensors.open(first.file())) {
                long[] s = st.tensors().get("images").shape();
                h = s[2];
                w = s[3];
            }
        } else {
            BufferedImage image = ImageFiles.read(first.file());
            h = image.getHeight();
            w = image.getWidth();
        }
        if (h != w) {
            throw new ImageFileException(first.file() + ": image is " + w + "x" + h + "; give the size to compare at (square center crops)");
        }
        return Math.toIntExact(h);
    }

    private static String stem(String name) {
        int dot = name.lastIndexOf('.');
        return (dot > 0 ? name.substring(0, dot) : name).replace('/', '_').replace('\\', '_');
    }

    public int size() {
        return items.size();
    }

    public List<Item> items() {
        return items;
    }

    /** Images {@code [start, start+count)} as [count, 3, S, S] float32 in [-1, 1], owned by {@code manager}. */
    public NDArray batch(int start, int count, NDManager manager) {
        List<Item> slice = items.subList(start, start + count);
        List<NDArray> parts = new ArrayList<>();
        int i = 0;
        while (i < slice.size()) {
            Item first = slice.get(i);
            int j = i;
            if (first.index() >= 0) { // a run of rows from one tensor file
                while (j < slice.size() && slice.get(j).file().equals(first.file()) && slice.get(j).index() == first.index() + (j - i)) {
                    j++;
                }
                parts.add(tensorRows(first.file(), first.index(), j - i, manager));
            } else {
                List<BufferedImage> images = new ArrayList<>();
                while (j < slice.size() && slice.get(j).index() < 0) {
                    images.add(fit(ImageFiles.read(slice.get(j).file()), slice.get(j).file()));
                    j++;
                }
                parts.add(ImageTensors.toTensor(images, manager));
            }
            i = j;
        }
        if (parts.size() == 1) {
            return parts.get(0);
        }
        NDArray out = ai.djl.ndarray.NDArrays.concat(new ai.djl.ndarray.NDList(parts), 0);
        parts.forEach(NDArray::close);
        return out;
    }

    private BufferedImage fit(BufferedImage image, Path file) {
        if (image.getWidth() == imageSize && image.getHeight() == imageSize) {
            return image;
        }
        if (!resize) {
            throw new ImageFileException(file + ": image is " + image.getWidth() + "x" + image.getHeight()
                    + ", the model takes " + imageSize + "x" + imageSize + " (drop --no-resize to center-crop and resize)");
        }
        return AdmCrop.centerCrop(image, imageSize);
    }

    private static NDArray tensorRows(Path file, int first, int count, NDManager manager) {
        try (Safetensors st = Safetensors.open(file)) {
            NDArray rows = st.readRows("images", first, count, manager);
            if (rows.getDataType() != DataType.FLOAT32) {
                NDArray f = rows.toType(DataType.FLOAT32, true);
                rows.close();
                rows = f;
            }
            float min = rows.min().getFloat();
            float max = rows.max().getFloat();
            if (min < -1.001f || max > 1.001f) {
                rows.close();
                throw new TensorFileException(file + ": 'images' values span [" + min + ", " + max
                        + "]; expected [-1, 1], i.e. (pixel/255 - 0.5)/0.5");
            }
            return rows;
        }
    }
}
