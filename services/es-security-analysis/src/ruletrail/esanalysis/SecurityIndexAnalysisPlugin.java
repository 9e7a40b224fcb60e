package ruletrail.esanalysis;

import org.apache.lucene.analysis.CharArraySet;
import org.apache.lucene.analysis.TokenFilter;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.email.UAX29URLEmailTokenizer;
import org.apache.lucene.analysis.miscellaneous.RemoveDuplicatesTokenFilter;
import org.apache.lucene.analysis.pattern.PatternCaptureGroupTokenFilter;
import org.apache.lucene.analysis.tokenattributes.CharTermAttribute;
import org.apache.lucene.analysis.tokenattributes.PositionIncrementAttribute;
import org.elasticsearch.index.analysis.TokenFilterFactory;
import org.elasticsearch.index.analysis.TokenizerFactory;
import org.elasticsearch.indices.analysis.AnalysisModule.AnalysisProvider;
import org.elasticsearch.plugins.AnalysisPlugin;
import org.elasticsearch.plugins.Plugin;

import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The three analysis components the Elasticsearch security index needs and the integ-test-zip lacks.
 *
 * <p>Why this exists: Maven Central's integ-test-zip distribution ships x-pack security but not the
 * analysis-common module, and the {@code .security} index's settings define an {@code email} analyzer built
 * from the {@code uax_url_email} tokenizer and the {@code pattern_capture} and {@code unique} token filters.
 * Without them the index cannot be created, so native users and API keys are unavailable. Every component
 * here is a thin factory over the Lucene class that analysis-common itself wraps (lucene-analysis-common is
 * in the distribution's lib/); {@code unique} mirrors analysis-common's UniqueTokenFilter. Nothing else of
 * analysis-common is provided: the test node only needs the security index to exist.
 */
public final class SecurityIndexAnalysisPlugin extends Plugin implements AnalysisPlugin {

    @Override
    public Map<String, AnalysisProvider<TokenizerFactory>> getTokenizers() {
        return Map.of("uax_url_email", (indexSettings, env, name, settings) -> {
            int maxTokenLength = settings.getAsInt("max_token_length", 255);
            return TokenizerFactory.newFactory(name, () -> {
                UAX29URLEmailTokenizer tokenizer = new UAX29URLEmailTokenizer();
                tokenizer.setMaxTokenLength(maxTokenLength);
                return tokenizer;
            });
        });
    }

    @Override
    public Map<String, AnalysisProvider<TokenFilterFactory>> getTokenFilters() {
        return Map.of(
            // Registered like analysis-common does: it only exists with settings, so Elasticsearch must not
            // instantiate it bare when it builds its registry of defaults.
            "pattern_capture", AnalysisPlugin.requiresAnalysisSettings((indexSettings, env, name, settings) -> {
                List<String> regexes = settings.getAsList("patterns");
                if (regexes.isEmpty()) {
                    throw new IllegalArgumentException("pattern_capture filter [" + name + "] needs [patterns]");
                }
                Pattern[] patterns = regexes.stream().map(Pattern::compile).toArray(Pattern[]::new);
                boolean preserveOriginal = settings.getAsBoolean("preserve_original", true);
                return filter(name, in -> new PatternCaptureGroupTokenFilter(in, preserveOriginal, patterns));
            }),
            "unique", (indexSettings, env, name, settings) -> {
                boolean onlyOnSamePosition = settings.getAsBoolean("only_on_same_position", false);
                return filter(name, in -> onlyOnSamePosition ? new RemoveDuplicatesTokenFilter(in) : new UniqueTokenFilter(in));
            }
        );
    }

    private static TokenFilterFactory filter(String name, java.util.function.UnaryOperator<TokenStream> create) {
        return new TokenFilterFactory() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public TokenStream create(TokenStream tokenStream) {
                return create.apply(tokenStream);
            }
        };
    }

    /** Drops every token whose text was already emitted earlier in the stream (analysis-common's "unique"). */
    static final class UniqueTokenFilter extends TokenFilter {
        private final CharTermAttribute term = addAttribute(CharTermAttribute.class);
        private final PositionIncrementAttribute posInc = addAttribute(PositionIncrementAttribute.class);
        private final CharArraySet seen = new CharArraySet(8, false);

        UniqueTokenFilter(TokenStream in) {
            super(in);
        }

        @Override
        public boolean incrementToken() throws IOException {
            int skipped = 0;
            while (input.incrementToken()) {
                if (seen.contains(term.buffer(), 0, term.length())) {
                    skipped += posInc.getPositionIncrement();
                    continue;
                }
                char[] copy = new char[term.length()];
                System.arraycopy(term.buffer(), 0, copy, 0, copy.length);
                seen.add(copy);
                posInc.setPositionIncrement(posInc.getPositionIncrement() + skipped);
                return true;
            }
            return false;
        }

        @Override
        public void reset() throws IOException {
            super.reset();
            seen.clear();
        }
    }
}
