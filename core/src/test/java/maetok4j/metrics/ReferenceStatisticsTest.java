package maetok4j.metrics;

import maetok4j.tensor.Npz;
import maetok4j.tensor.Npz.NpyArray;
import maetok4j.tensor.TensorFileException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static maetok4j.TestFiles.resource;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ReferenceStatisticsTest {

    @TempDir
    Path dir;

    @Test
    void readsPytorchFidStatistics() {
        // np.savez_compressed(mu=, sigma=) of fd.x1, as pytorch-fid's --save-stats
        Map<String, NpyArray> ref = Npz.read(resource("metrics/distribution_metrics.npz"), List.of("fd.mu1", "fd.sigma1"));
        FeatureStatistics s = ReferenceStatistics.read(resource("metrics/fid_stats.npz"));
        assertThat(s.dimension()).isEqualTo(32);
        assertThat(s.count()).isEqualTo(FeatureStatistics.UNKNOWN_COUNT);
        assertThat(s.mean()).containsExactly(ref.get("fd.mu1").toDoubleArray());
        assertThat(s.covariance()).containsExactly(ref.get("fd.sigma1").toDoubleArray());
    }

    @Test
    void writesWhatItReadsWithTheCount() {
        FeatureStatistics s = new FeatureStatistics(3);
        s.add(new float[] {1, 2, 3, 4, 5, 7, 0, 1, -1, 2, 2, 2}, 4);
        Path file = dir.resolve("stats.npz");
        ReferenceStatistics.write(file, s);
        assertThat(Npz.keys(file)).containsExactly("mu", "sigma", "count");
        assertThat(Npz.read(file).get("sigma").dtype()).isEqualTo("<f8");
        FeatureStatistics back = ReferenceStatistics.read(file);
        assertThat(back.count()).isEqualTo(4);
        assertThat(back.mean()).containsExactly(s.mean());
        assertThat(back.covariance()).containsExactly(s.covariance());
    }

    @Test
    void ignoresTheOtherEntriesOfAnAdmReferenceBatch() {
        Map<String, NpyArray> adm = new LinkedHashMap<>();
        adm.put("arr_0", NpyArray.ofUnsignedBytes(new byte[2 * 4 * 4 * 3], 2, 4, 4, 3));
        adm.put("mu", NpyArray.of(new double[] {1, 2}, 2));
        adm.put("sigma", NpyArray.of(new double[] {1, 0, 0, 1}, 2, 2));
        adm.put("mu_s", NpyArray.of(new double[3], 3));
        adm.put("sigma_s", NpyArray.of(new double[9], 3, 3));
        Path file = dir.resolve("VIRTUAL_ref.npz");
        Npz.write(file, adm);
        FeatureStatistics s = ReferenceStatistics.read(file);
        assertThat(s.mean()).containsExactly(1, 2);
        assertThat(s.count()).isZero();
    }

    @Test
    void reportsMissingAndMisshapenEntries() {
        Path missing = dir.resolve("missing.npz");
        Npz.write(missing, Map.of("mu", NpyArray.of(new double[2], 2)));
        assertThatThrownBy(() -> ReferenceStatistics.read(missing))
                .isInstanceOf(TensorFileException.class).hasMessageStartingWith(missing + ": ").hasMessageContaining("no entry 'sigma'");
        Path misshapen = dir.resolve("misshapen.npz");
        Npz.write(misshapen, Map.of("mu", NpyArray.of(new double[2], 2), "sigma", NpyArray.of(new double[6], 2, 3)));
        assertThatThrownBy(() -> ReferenceStatistics.read(misshapen))
                .isInstanceOf(TensorFileException.class).hasMessage(misshapen + ": 'sigma' must be [2, 2] for 'mu' [2], got [2, 3]");
    }
}
