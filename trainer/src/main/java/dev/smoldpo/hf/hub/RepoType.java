package dev.smoldpo.hf.hub;

/**
 * The kind of hub repository: it decides the URL paths and the cache folder prefix, as in
 * huggingface_hub ({@code repo_type="model"} / {@code "dataset"}).
 *
 * <pre>
 *            listing                                          file                                       cache folder
 * MODEL      {endpoint}/api/models/{id}/revision/{rev}         {endpoint}/{id}/resolve/{commit}/{file}          models--{org}--{name}
 * DATASET    {endpoint}/api/datasets/{id}/revision/{rev}       {endpoint}/datasets/{id}/resolve/{commit}/{file} datasets--{org}--{name}
 * </pre>
 */
public enum RepoType {
    /** A model repository (the default), e.g. {@code HuggingFaceTB/SmolVLM-256M-Instruct}. */
    MODEL("models", "", "repository", "model", "HuggingFaceTB/SmolVLM-256M-Instruct"),
    /** A dataset repository, e.g. {@code openbmb/RLHF-V-Dataset}. */
    DATASET("datasets", "datasets/", "dataset", "dataset", "openbmb/RLHF-V-Dataset");

    private final String plural;
    private final String urlPrefix;
    private final String noun;
    private final String kindName;
    private final String example;

    RepoType(String plural, String urlPrefix, String noun, String kindName, String example) {
        this.plural = plural;
        this.urlPrefix = urlPrefix;
        this.noun = noun;
        this.kindName = kindName;
        this.example = example;
    }

    /** The API path segment: {@code {endpoint}/api/{apiSegment}/{repo_id}/...}, {@code models} or {@code datasets}. */
    public String apiSegment() {
        return plural;
    }

    /**
     * What comes between the endpoint and the repository id in web and resolve URLs: {@code ""} for models,
     * {@code "datasets/"} for datasets.
     */
    public String urlPrefix() {
        return urlPrefix;
    }

    /** huggingface_hub's cache folder prefix: {@code models--} or {@code datasets--}. */
    public String cachePrefix() {
        return plural + "--";
    }

    /** How error messages name a repository of this kind: {@code repository} (models) or {@code dataset}. */
    String noun() {
        return noun;
    }

    /** {@code model} or {@code dataset}. */
    String kindName() {
        return kindName;
    }

    /** An example repository id, for error messages. */
    String example() {
        return example;
    }

    /** The repository id as messages name it: {@code org/name} for models, {@code dataset org/name} for datasets. */
    String named(String repoId) {
        return this == MODEL ? repoId : noun + " " + repoId;
    }
}
