package maetok4j.metrics;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.List;

/**
 * The set-level metrics of generation and reconstruction papers between a real and a fake {@link FeatureSet}:
 * Fréchet distance, KID, Inception Score of the fakes, and improved precision/recall. Each is computed when its
 * inputs exist (rows for KID and precision/recall, logits for IS) and otherwise left out with a note saying why;
 * nothing is estimated from something else.
 */
public final class DistributionMetrics {

    private DistributionMetrics() {}

    /**
     * @param kid KID's subsets and seed
     * @param isSplits the Inception Score's splits
     * @param k the neighbourhood size of precision/recall
     */
    public record Options(KernelInceptionDistance.Options kid, InceptionScore.Splits isSplits, int k) {

        public static final Options DEFAULT = new Options(KernelInceptionDistance.Options.DEFAULT, InceptionScore.Splits.DEFAULT,
                PrecisionRecall.DEFAULT_K);

        public Options {
            if (kid == null || isSplits == null || k < 1) {
                throw new IllegalArgumentException("need KID options, IS splits and k >= 1");
            }
        }
    }

    /**
     * @param network the feature network behind every number
     * @param fidInception whether that network is the standard FID InceptionV3 (only then is {@code fd} an FID)
     * @param fd Fréchet distance of the feature statistics, or null
     * @param kid or null; {@code is} of the fake set, or null; {@code precisionRecall} or null
     * @param notes why a metric is missing, or caveats (small sets)
     */
    public record Result(String network, boolean fidInception, long realCount, long fakeCount, Double fd,
            KernelInceptionDistance.Result kid, InceptionScore.Result is, PrecisionRecall.Result precisionRecall, List<String> notes) {

        public Result {
            notes = List.copyOf(notes);
        }

        /** "FID" for the standard InceptionV3, "FD" otherwise: a domain-classifier number is never called FID. */
        public String fdName() {
            return fidInception ? "FID" : "FD";
        }

        /** The keys of {@code maetok eval compare --json}: {@code fd, kid, is, precision, recall} plus details. */
        public ObjectNode toJson(ObjectMapper json) {
            ObjectNode o = json.createObjectNode();
            o.put("feature_network", network).put("fid_inception", fidInception).put("fd_name", fdName())
                    .put("real_images", realCount).put("fake_images", fakeCount);
            putNullable(o, "fd", fd);
            putNullable(o, "kid", kid == null ? null : kid.mean());
            putNullable(o, "kid_std", kid == null ? null : kid.std());
            if (kid != null) {
                o.put("kid_subset_size", kid.subsetSize()).put("kid_subsets", kid.subsets());
            }
            putNullable(o, "is", is == null ? null : is.mean());
            putNullable(o, "is_std", is == null ? null : is.std());
            putNullable(o, "precision", precisionRecall == null ? null : precisionRecall.precision());
            putNullable(o, "recall", precisionRecall == null ? null : precisionRecall.recall());
            if (precisionRecall != null) {
                o.put("precision_recall_k", precisionRecall.k());
            }
            notes.forEach(o.putArray("notes")::add);
            return o;
        }

        private static void putNullable(ObjectNode o, String key, Double v) {
            if (v == null) {
                o.putNull(key);
            } else {
                o.put(key, v);
            }
        }
    }

    public static Result compare(FeatureSet real, FeatureSet fake, Options options) {
        if (real.dimension() != fake.dimension()) {
            throw new IllegalArgumentException("real features have " + real.dimension() + " dimensions, fake " + fake.dimension());
        }
        List<String> notes = new ArrayList<>();
        boolean sameNetwork = real.network() == null || real.network().equals(fake.network());
        if (real.network() == null) {
            notes.add("the reference statistics do not record their feature network; they must come from '" + fake.network() + "'");
        } else if (!sameNetwork) {
            notes.add("real statistics come from '" + real.network() + "', fakes from '" + fake.network() + "': the numbers compare"
                    + " different feature spaces");
        }
        Double fd = null;
        if (fake.statistics().count() < 2 || real.statistics().count() == 1) {
            notes.add("fd: needs at least 2 images per set");
        } else {
            fd = FrechetDistance.between(real.statistics(), fake.statistics());
            long smaller = Math.min(fake.count(), real.count() == FeatureStatistics.UNKNOWN_COUNT ? Long.MAX_VALUE : real.count());
            if (smaller <= real.dimension()) {
                notes.add("fd: " + smaller + " images for " + real.dimension() + " features; the covariance is singular and FD is biased"
                        + " upward (papers use 50,000 images)");
            }
        }
        KernelInceptionDistance.Result kid = null;
        PrecisionRecall.Result pr = null;
        if (real.hasRows() && fake.hasRows() && real.count() >= 2 && fake.count() >= 2) {
            int d = real.dimension();
            float[] r = real.rows();
            float[] f = fake.rows();
            kid = KernelInceptionDistance.compute(r, (int) real.count(), f, (int) fake.count(), d, options.kid());
            if (real.count() > options.k() && fake.count() > options.k()) {
                pr = PrecisionRecall.compute(r, (int) real.count(), f, (int) fake.count(), d, options.k());
            } else {
                notes.add("precision/recall: needs more than k=" + options.k() + " images per set");
            }
        } else {
            notes.add("kid, precision/recall: need the real images' features, not only stored statistics, and 2+ images per set");
        }
        InceptionScore.Result is = null;
        int isMinimum = Math.max(1, options.isSplits().count());
        if (fake.hasLogits() && fake.count() >= isMinimum) {
            is = InceptionScore.compute(fake.logits(), (int) fake.count(), fake.classes(), options.isSplits());
        } else {
            notes.add(fake.hasLogits() ? "is: " + fake.count() + " images are too few for " + isMinimum + " splits"
                    : "is: the feature network has no logits output");
        }
        return new Result(fake.network(), fake.fidInception() && sameNetwork, real.count(), fake.count(), fd, kid, is, pr, notes);
    }
}
