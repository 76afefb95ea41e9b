# Reference diagnostics of weighted fits for tests/test_diagnostics_weighted.py (R 4.2, base
# R only), written to tests/data/r/diagnostics_weighted_references.json (17 significant digits):
#   Rscript tests/data/r/diagnostics_weighted_references.R > tests/data/r/diagnostics_weighted_references.json
# Per row, of lm(..., weights = w, na.action = na.exclude), placed by row name (NA where R has
# no value: a missing value, or, for every column but the residual, a weight of 0, which R's
# lm.influence leaves out): residuals (y - fitted), hatvalues, rstandard, rstudent,
# cooks.distance. Per model, of the weighted residuals u = sqrt(w) * e over the rows of nonzero
# weight (weighted.residuals(fit), which drops the others): Durbin-Watson sum(diff(u)^2) /
# sum(u^2), Jarque-Bera n/6*(S^2 + (K-3)^2/4) with moment skewness/kurtosis, and
# Breusch-Pagan (Koenker) v = u^2 - mean(u^2), n * sum(fitted(v ~ model matrix)^2) / sum(v^2),
# df = model matrix columns - 1. (lmtest 0.9-40's bptest(fit) on a weighted fit is not used: it
# changes when every weight is doubled, 0.8807 -> 20.44 on mpg ~ wt + hp; see README.)
invisible(Sys.setlocale("LC_COLLATE", "C"))
rd <- function(f) read.csv(file.path("tests/data/r", f), stringsAsFactors = FALSE, check.names = FALSE)
models <- list(
  list("mtcars.csv", "mpg ~ wt + qsec", "hp", "columns"),
  list("mtcars.csv", "mpg ~ wt + factor(cyl)", "hp", "formula"),
  list("iris.csv", "Sepal.Length ~ Petal.Length + Species", "Sepal.Width", "formula"),
  list("airquality.csv", "Ozone ~ Solar.R + Wind + Temp", "Day", "columns"),
  list("mtcars.csv", "mpg ~ wt + hp", "am", "columns"),
  list("mtcars.csv", "mpg ~ 0 + wt + qsec", "hp", "columns")
)
num <- function(v) paste(ifelse(is.na(v), "null", sprintf("%.17g", v)), collapse = ", ")
cat("[\n")
for (k in seq_along(models)) {
  m <- models[[k]]; d <- rd(m[[1]])
  d$.w <- d[[m[[3]]]]
  fit <- lm(as.formula(m[[2]]), data = d, weights = .w, na.action = na.exclude)
  full <- function(v) {  # padded by na.exclude, else (weights 0 drop rows) placed by row name
    out <- if (length(v) == nrow(d)) unname(v) else {
      o <- rep(NA_real_, nrow(d)); o[match(names(v), rownames(d))] <- v; o }
    out[is.na(d$.w) | d$.w == 0] <- NA; out
  }
  e <- residuals(fit)
  u <- weighted.residuals(fit); u <- u[!is.na(u)]; n <- length(u)
  dw <- sum(diff(u)^2) / sum(u^2)
  c2 <- mean((u - mean(u))^2); s <- mean((u - mean(u))^3) / c2^1.5; ku <- mean((u - mean(u))^4) / c2^2
  jb <- n / 6 * (s^2 + (ku - 3)^2 / 4)
  Z <- model.matrix(fit)[fit$weights > 0, , drop = FALSE]; v <- u^2 - mean(u^2)
  bp <- n * sum(lm.fit(Z, v)$fitted.values^2) / sum(v^2)
  bdf <- ncol(Z) - 1
  cat(sprintf('{"file": "%s", "model": "%s", "weights": "%s", "kind": "%s", "resid": [%s], "hat": [%s], "rstandard": [%s], "rstudent": [%s], "cooks": [%s], "n": %d, "dw": %.17g, "jb": %.17g, "jb_p": %.17g, "bp": %.17g, "bp_df": %d, "bp_p": %.17g}%s\n',
    m[[1]], m[[2]], m[[3]], m[[4]], num(e), num(full(hatvalues(fit))), num(full(rstandard(fit))),
    num(full(rstudent(fit))), num(full(cooks.distance(fit))), n, dw, jb,
    pchisq(jb, 2, lower.tail = FALSE), bp, bdf, pchisq(bp, bdf, lower.tail = FALSE),
    if (k < length(models)) "," else ""))
}
cat("]\n")
