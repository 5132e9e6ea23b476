package maetok4j.report;

import java.nio.file.Path;
import java.util.List;

/** The content of a section. */
public sealed interface Block permits Block.Paragraph, Block.Bullets, Block.Table, Block.Figure, Block.Code {

    /** Running text. */
    record Paragraph(String text) implements Block {
        public Paragraph {
            Inline.requireText(text, "paragraph");
            Inline.parse(text);
        }
    }

    /** An unordered list of short items. */
    record Bullets(List<String> items) implements Block {
        public Bullets {
            items = List.copyOf(items);
            if (items.isEmpty()) {
                throw new IllegalArgumentException("a bullet list needs at least one item");
            }
            items.forEach(i -> {
                Inline.requireText(i, "bullet");
                Inline.parse(i);
            });
        }
    }

    /**
     * A table with a header row; every row has as many cells as the header. The caption and the commands that
     * made the numbers are shown with it.
     */
    record Table(String caption, List<String> header, List<List<String>> rows, List<Provenance> madeBy) implements Block {
        public Table {
            Inline.requireText(caption, "table caption");
            Inline.parse(caption);
            header = List.copyOf(header);
            if (header.isEmpty()) {
                throw new IllegalArgumentException("table '" + caption + "': no columns");
            }
            rows = rows.stream().map(List::copyOf).toList();
            for (int r = 0; r < rows.size(); r++) {
                if (rows.get(r).size() != header.size()) {
                    throw new IllegalArgumentException("table '" + caption + "': row " + (r + 1) + " has " + rows.get(r).size()
                            + " cells for " + header.size() + " columns");
                }
            }
            header.forEach(Inline::parse);
            rows.forEach(row -> row.forEach(Inline::parse));
            madeBy = Provenance.require(madeBy, "table '" + caption + "'");
        }
    }

    /** A PNG image with its caption and the commands that made it. */
    record Figure(Path png, String caption, List<Provenance> madeBy) implements Block {
        public Figure {
            if (png == null) {
                throw new IllegalArgumentException("figure '" + caption + "': no image file");
            }
            Inline.requireText(caption, "figure caption");
            Inline.parse(caption);
            madeBy = Provenance.require(madeBy, "figure '" + caption + "'");
        }
    }

    /** Literal text shown as is in a monospaced block, e.g. a command line. */
    record Code(String text) implements Block {
        public Code {
            Inline.requireText(text, "code block");
        }
    }
}
