# Writes the R data sets used by tests/test_gd_real.py (target first, then the features) and
# prints lm()'s coefficients for every CSV here (the statsmodels ones are written by the
# Python lines in that test's docstring). Run in this folder: Rscript make_real.R
w <- function(d, name) write.csv(d, paste0(name, ".csv"), row.names = FALSE)
w(mtcars[, c("mpg", "wt", "hp")], "mtcars_wt_hp")
w(mtcars[, c("mpg", "disp", "hp", "wt", "drat", "qsec")], "mtcars_five")
w(longley[, c("Employed", "GNP.deflator", "GNP", "Unemployed", "Armed.Forces",
              "Population", "Year")], "longley")
w(swiss, "swiss")
w(LifeCycleSavings, "lifecyclesavings")
w(iris[, c("Sepal.Length", "Sepal.Width", "Petal.Length", "Petal.Width")], "iris")
w(trees[, c("Volume", "Girth", "Height")], "trees")
w(stackloss[, c("stack.loss", "Air.Flow", "Water.Temp", "Acid.Conc.")], "stackloss")
w(attitude, "attitude")
w(na.omit(airquality[, c("Ozone", "Solar.R", "Wind", "Temp")]), "airquality")
w(USJudgeRatings[, c("RTEN", setdiff(names(USJudgeRatings), "RTEN"))], "usjudgeratings")
w(data.frame(y = as.numeric(freeny.y), freeny.x), "freeny")
s <- data.frame(state.x77); w(s[, c("Life.Exp", setdiff(names(s), "Life.Exp"))], "state_x77")
w(rock[, c("area", "peri", "shape", "perm")], "rock")
options(digits = 17)
for (f in sort(list.files(".", pattern = "\\.csv$"))) {
  d <- read.csv(f)
  fit <- lm(as.formula(paste(names(d)[1], "~ .")), data = d)
  cat(sprintf('    "%s": [%s],\n', sub("\\.csv$", "", f),
              paste(sprintf("%.17g", coef(fit)), collapse = ", ")))
}
