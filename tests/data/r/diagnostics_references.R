# Reference diagnostics for tests/test_diagnostics.py (R 4.2, base R only), written to
# tests/data/r/diagnostics_references.json with 17 significant digits:
#   Rscript tests/data/r/diagnostics_references.R > tests/data/r/diagnostics_references.json
# Per row (NA rows kept in place by na.exclude): residuals, hatvalues, rstandard, rstudent,
# cooks.distance. Per model: Durbin-Watson sum(diff(e)^2)/sum(e^2) (as car::durbinWatsonTest's
# statistic), Jarque-Bera n/6*(S^2 + (K-3)^2/4) with moment skewness/kurtosis (as
# tseries::jarque.bera.test), Breusch-Pagan studentised (Koenker), lmtest::bptest's default,
# by its own lines: w = e^2 - mean(e^2), n * sum(fitted(w ~ model matrix)^2) / sum(w^2),
# df = model matrix columns - 1.
invisible(Sys.setlocale("LC_COLLATE", "C"))
rd <- function(f) read.csv(file.path("tests/data/r", f), stringsAsFactors = FALSE, check.names = FALSE)
models <- list(
  list("mtcars.csv", "mpg ~ wt + hp", "columns"),
  list("trees.csv", "log(Volume) ~ log(Girth) + log(Height)", "formula"),
  list("iris.csv", "Sepal.Length ~ Petal.Length + Species", "formula"),
  list("airquality.csv", "Ozone ~ Solar.R + Wind + Temp", "columns"),
  list("mtcars.csv", "mpg ~ 0 + wt + hp", "columns")
)
num <- function(v) paste(ifelse(is.na(v), "null", sprintf("%.17g", v)), collapse = ", ")
cat("[\n")
for (k in seq_along(models)) {
  m <- models[[k]]; d <- rd(m[[1]])
  fit <- lm(as.formula(m[[2]]), data = d, na.action = na.exclude)
  e <- residuals(fit); ok <- !is.na(e); r <- e[ok]; n <- length(r)
  dw <- sum(diff(r)^2) / sum(r^2)
  c2 <- mean((r - mean(r))^2); s <- mean((r - mean(r))^3) / c2^1.5; ku <- mean((r - mean(r))^4) / c2^2
  jb <- n / 6 * (s^2 + (ku - 3)^2 / 4)
  Z <- model.matrix(fit); w <- r^2 - mean(r^2)  # lmtest::bptest(studentize = TRUE)'s lines
  bp <- n * sum(lm.fit(Z, w)$fitted.values^2) / sum(w^2)
  bdf <- ncol(Z) - 1
  cat(sprintf('{"file": "%s", "model": "%s", "kind": "%s", "resid": [%s], "hat": [%s], "rstandard": [%s], "rstudent": [%s], "cooks": [%s], "dw": %.17g, "jb": %.17g, "jb_p": %.17g, "bp": %.17g, "bp_df": %d, "bp_p": %.17g}%s\n',
    m[[1]], m[[2]], m[[3]], num(e), num(hatvalues(fit)), num(rstandard(fit)), num(rstudent(fit)),
    num(cooks.distance(fit)), dw, jb, pchisq(jb, 2, lower.tail = FALSE), bp, bdf,
    pchisq(bp, bdf, lower.tail = FALSE), if (k < length(models)) "," else ""))
}
cat("]\n")
