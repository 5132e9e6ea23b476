package maetok4j.report;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ReportTest {

    @TempDir
    Path dir;

    static final Provenance MADE_BY = new Provenance("maetok analyze gmm runs/x/latents --k 1,2", "the command line", "0 (--seed)");

    Path png(String relative) throws Exception {
        Path file = dir.resolve(relative);
        Files.createDirectories(file.getParent());
        BufferedImage image = new BufferedImage(3, 2, BufferedImage.TYPE_INT_RGB);
        image.setRGB(1, 1, 0xff0000);
        ImageIO.write(image, "png", file.toFile());
        return file;
    }

    Report sample() throws Exception {
        return new Report("Demo <report> & co", List.of(new Block.Paragraph("Run with `maetok demo --out runs/a_b` on **2** cores.")),
                List.of(new Report.Section("Latent_space", List.of(
                        new Block.Table("NLL per dim; 1 < 2 | 3", List.of("K", "NLL_per_dim"),
                                List.of(List.of("1", "1.42"), List.of("`a|b`", "<b>x</b>")), List.of(MADE_BY)),
                        new Block.Figure(png("analysis/gmm plot.png"), "GMM NLL against *K*? no: `K`", List.of(MADE_BY)),
                        new Block.Bullets(List.of("- not a list", "1. not ordered")),
                        new Block.Code("x = ```y```\n")))));
    }

    @Test
    void markdownEscapesTextKeepsCodeAndLinksFiguresRelatively() throws Exception {
        String md = Markdown.render(sample(), dir);
        assertThat(md).startsWith("# Demo \\<report\\> \\& co\n\n");
        assertThat(md).contains("Run with `maetok demo --out runs/a_b` on **2** cores.\n");
        assertThat(md).contains("## Latent\\_space\n");
        assertThat(md).contains("**Table 1.** NLL per dim; 1 \\< 2 \\| 3\n\n| K | NLL\\_per\\_dim |\n|---|---|\n| 1 | 1.42 |\n| `a\\|b` | \\<b\\>x\\</b\\> |\n");
        assertThat(md).contains("![GMM NLL against \\*K\\*? no: K](analysis/gmm%20plot.png)\n\n**Figure 1.** GMM NLL against \\*K\\*? no: `K`\n");
        assertThat(md).contains("```sh\n# config: the command line; seed: 0 (--seed)\nmaetok analyze gmm runs/x/latents --k 1,2\n```\n");
        assertThat(md).contains("- \\- not a list\n- 1\\. not ordered\n");
        assertThat(md).contains("````\nx = ```y```\n````\n"); // the fence outlasts the backticks inside
        assertThat(md.split("\\*\\*Table ", -1)).hasSize(2);
    }

    @Test
    void markdownLinksOutsideItsFolderAndRefusesMissingFigures() throws Exception {
        Path figure = png("elsewhere/f.png");
        Report r = new Report("t", List.of(new Block.Figure(figure, "f", List.of(MADE_BY))), List.of());
        assertThat(Markdown.render(r, dir.resolve("reports"))).contains("](../elsewhere/f.png)");
        Report missing = new Report("t", List.of(new Block.Figure(dir.resolve("none.png"), "lost", List.of(MADE_BY))), List.of());
        assertThatThrownBy(() -> Markdown.render(missing, dir)).hasMessageContaining("none.png: no such file (figure 'lost')");
    }

    @Test
    void htmlIsOneEscapedFileWithTheFiguresInside() throws Exception {
        Report report = sample();
        String html = Html.render(report);
        assertThat(html).startsWith("<!DOCTYPE html>").contains("<title>Demo &lt;report&gt; &amp; co</title>");
        assertThat(html).contains("<h1>Demo &lt;report&gt; &amp; co</h1>");
        assertThat(html).contains("<p>Run with <code>maetok demo --out runs/a_b</code> on <strong>2</strong> cores.</p>");
        assertThat(html).contains("<td><code>a|b</code></td><td>&lt;b&gt;x&lt;/b&gt;</td>");
        assertThat(html).contains("<pre class=\"made-by\"># config: the command line; seed: 0 (--seed)\nmaetok analyze gmm runs/x/latents --k 1,2</pre>");
        assertThat(html).contains("<li>- not a list</li>").contains("<pre><code>x = ```y```</code></pre>");
        // nothing from outside the file: no links, external sources, style sheets or scripts
        assertThat(html).doesNotContain("href=").doesNotContain("<link").doesNotContain("<script").doesNotContain("url(")
                .doesNotContain("http:").doesNotContain("https:");
        Matcher m = Pattern.compile("<img src=\"data:image/png;base64,([A-Za-z0-9+/=]+)\" alt=\"([^\"]*)\">").matcher(html);
        assertThat(m.find()).isTrue();
        assertThat(Base64.getDecoder().decode(m.group(1))).isEqualTo(Files.readAllBytes(dir.resolve("analysis/gmm plot.png")));
        assertThat(m.group(2)).isEqualTo("GMM NLL against *K*? no: K");
        assertThat(m.find()).isFalse();
        // every tag opened is closed
        for (String tag : List.of("section", "table", "figure", "figcaption", "pre", "ul", "p")) {
            assertThat(count(html, "<" + tag + "[ >]")).as(tag).isEqualTo(count(html, "</" + tag + ">"));
        }
    }

    @Test
    void writesBothFilesAndRefusesAFigureThatIsNotAPng() throws Exception {
        Report report = sample();
        report.writeMarkdown(dir.resolve("report.md"));
        report.writeHtml(dir.resolve("report.html"));
        assertThat(Files.readString(dir.resolve("report.md"))).isEqualTo(Markdown.render(report, dir));
        assertThat(Files.readString(dir.resolve("report.html"))).isEqualTo(Html.render(report));
        Path fake = dir.resolve("fake.png");
        Files.writeString(fake, "GIF89a");
        Report bad = new Report("t", List.of(new Block.Figure(fake, "fake", List.of(MADE_BY))), List.of());
        assertThatThrownBy(() -> bad.writeHtml(dir.resolve("bad.html"))).hasMessageContaining("fake.png: not a PNG file (figure 'fake')");
        assertThat(dir.resolve("bad.html")).doesNotExist();
    }

    @Test
    void theModelRefusesWhatCannotRender() {
        assertThatThrownBy(() -> new Block.Paragraph("an `unclosed span")).hasMessageContaining("unclosed `code` span in: an `unclosed span");
        assertThatThrownBy(() -> new Block.Paragraph("**bold `code`**")).hasMessageContaining("code inside a bold span");
        assertThatThrownBy(() -> new Block.Table("t", List.of("a", "b"), List.of(List.of("1")), List.of(MADE_BY)))
                .hasMessageContaining("table 't': row 1 has 1 cells for 2 columns");
        assertThatThrownBy(() -> new Block.Table("t", List.of("a"), List.of(), List.of())).hasMessageContaining("table 't': names no command");
        assertThatThrownBy(() -> new Provenance("maetok x", "c", " ")).hasMessageContaining("provenance seed of 'maetok x' is empty");
        assertThatThrownBy(() -> new Report(" ", List.of(), List.of())).hasMessageContaining("report title is empty");
    }

    private static int count(String text, String regex) {
        Matcher m = Pattern.compile(regex).matcher(text);
        int n = 0;
        while (m.find()) {
            n++;
        }
        return n;
    }
}
