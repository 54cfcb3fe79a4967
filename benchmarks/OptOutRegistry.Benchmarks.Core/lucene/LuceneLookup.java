// Peer benchmark for issue 3 item 8: exact lookups of canonical URL keys in an on-disk Lucene 8 index
// (Debian liblucene8-java). Compiled and run by ../run.sh; reads keys.txt (indexed) and queries.txt
// (looked up, 50 % present) written by `OptOutRegistry.Benchmarks.Core --export`.
// Single-threaded, like the .NET figures. Lucene receives keys that are already canonical: it does less
// work per lookup than the matcher, which canonicalises raw URLs and also answers prefixes, hosts and time.

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;

import org.apache.lucene.analysis.core.KeywordAnalyzer;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.StringField;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.Term;
import org.apache.lucene.index.Terms;
import org.apache.lucene.index.TermsEnum;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.TermQuery;
import org.apache.lucene.store.FSDirectory;
import org.apache.lucene.util.BytesRef;

public final class LuceneLookup {
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    private static double cpuSeconds() {
        return THREADS.getCurrentThreadCpuTime() / 1e9;
    }

    public static void main(String[] args) throws Exception {
        Path keysFile = Paths.get(args[0]);
        Path queriesFile = Paths.get(args[1]);
        Path indexDir = Paths.get(args[2]);
        List<String> keys = Files.readAllLines(keysFile, StandardCharsets.UTF_8);
        List<String> queries = Files.readAllLines(queriesFile, StandardCharsets.UTF_8);

        long start = System.nanoTime();
        try (FSDirectory dir = FSDirectory.open(indexDir)) {
            IndexWriterConfig config = new IndexWriterConfig(new KeywordAnalyzer());
            config.setOpenMode(IndexWriterConfig.OpenMode.CREATE);
            config.setRAMBufferSizeMB(256);
            try (IndexWriter writer = new IndexWriter(dir, config)) {
                for (String key : keys) {
                    Document doc = new Document();
                    doc.add(new StringField("key", key, Field.Store.NO));
                    writer.addDocument(doc);
                }
                writer.forceMerge(1);
            }
            double buildSeconds = (System.nanoTime() - start) / 1e9;

            try (DirectoryReader reader = DirectoryReader.open(dir)) {
                IndexSearcher searcher = new IndexSearcher(reader);
                searcher.setQueryCache(null);
                BytesRef[] refs = new BytesRef[queries.size()];
                for (int i = 0; i < refs.length; i++) {
                    refs[i] = new BytesRef(queries.get(i));
                }

                double termQueryBest = Double.MAX_VALUE;
                long termHits = 0;
                for (int pass = 0; pass < 5; pass++) {
                    termHits = 0;
                    double t = cpuSeconds();
                    for (String q : queries) {
                        termHits += searcher.count(new TermQuery(new Term("key", q)));
                    }
                    termQueryBest = Math.min(termQueryBest, cpuSeconds() - t);
                }

                double seekBest = Double.MAX_VALUE;
                long seekHits = 0;
                for (int pass = 0; pass < 5; pass++) {
                    seekHits = 0;
                    double t = cpuSeconds();
                    for (LeafReaderContext leaf : reader.leaves()) {
                        Terms terms = leaf.reader().terms("key");
                        TermsEnum termsEnum = terms.iterator();
                        for (BytesRef ref : refs) {
                            if (termsEnum.seekExact(ref)) {
                                seekHits++;
                            }
                        }
                    }
                    seekBest = Math.min(seekBest, cpuSeconds() - t);
                }

                System.out.printf("| %,d | %,d | %.1f | %,.0f | %,.0f | %d / %d |%n",
                    keys.size(), queries.size(), buildSeconds,
                    queries.size() / termQueryBest, queries.size() / seekBest, termHits, seekHits);
            }
        }
    }
}
