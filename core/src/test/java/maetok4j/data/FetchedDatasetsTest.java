package maetok4j.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class FetchedDatasetsTest {

    @TempDir
    Path tmp;

    @Test
    void emojiFolderIncludesSkinVariantsUnderTheBaseCategory() throws IOException {
        Path img = tmp.resolve("img/google/64");
        Files.createDirectories(img);
        for (String f : new String[] {"a.png", "b.png", "b-1.png"}) {
            BufferedImage rgba = new BufferedImage(4, 4, BufferedImage.TYPE_INT_ARGB);
            rgba.setRGB(1, 1, 0xff00ff00);
            ImageIO.write(rgba, "png", img.resolve(f).toFile());
        }
        Files.writeString(tmp.resolve("emoji.json"), """
                [{"image": "b.png", "category": "People & Body", "sort_order": 2, "has_img_google": true,
                  "skin_variations": {"1F3FB": {"image": "b-1.png", "has_img_google": true},
                                      "1F3FC": {"image": "b-2.png", "has_img_google": false}}},
                 {"image": "a.png", "category": "Animals & Nature", "sort_order": 1, "has_img_google": true}]
                """);
        Dataset d = Datasets.open(tmp.toString(), true, false, 0, null);
        assertThat(d.size()).isEqualTo(3);
        assertThat(d.classes()).containsExactly("Animals & Nature", "People & Body");
        assertThat(d.classCounts()).containsExactly(1, 2);
        assertThat(d.image(0).getRGB(0, 0) & 0xffffff).isEqualTo(0xffffff); // transparent -> white
        assertThat(d.image(2).getRGB(1, 1) & 0xffffff).isEqualTo(0x00ff00);

        Files.delete(img.resolve("b-1.png"));
        assertThatThrownBy(() -> EmojiDataset.open(tmp)).hasMessageContaining("names images that are missing");
    }

    @Test
    void unknownAndUnfetchedNamesSayWhatToDo() {
        assertThat(FetchedDatasets.list()).containsKeys("fashion-mnist", "mnist", "emoji-noto");
        assertThatThrownBy(() -> FetchedDatasets.fetch("cifar-10")).hasMessageContaining("no fetchable dataset 'cifar-10'");
        if (!FetchedDatasets.isFetched("mnist")) {
            assertThatThrownBy(() -> FetchedDatasets.open("mnist:test")).hasMessageContaining("maetok data fetch mnist");
        }
        assertThatThrownBy(() -> Datasets.open("no-such-thing", true, false, 0, null))
                .hasMessageContaining("not a bundled dataset").hasMessageContaining("emoji-noto-64").hasMessageContaining("mnist");
    }

    @Test
    void checksumsAreSha256() throws IOException {
        Path f = tmp.resolve("abc");
        Files.writeString(f, "abc");
        assertThat(FetchedDatasets.sha256(f)).isEqualTo("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
